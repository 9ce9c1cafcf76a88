# Build: the SDK image restores and publishes the appliance; the runtime image carries only the output.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Project files first: the restore layer is reused for as long as no dependency changes.
COPY Directory.Build.props .editorconfig ./
COPY src/SmtpAmpProxy/SmtpAmpProxy.csproj src/SmtpAmpProxy/
COPY src/SmtpAmpProxy.Mime/SmtpAmpProxy.Mime.csproj src/SmtpAmpProxy.Mime/
COPY src/SmtpAmpProxy.Normalizer/SmtpAmpProxy.Normalizer.csproj src/SmtpAmpProxy.Normalizer/
COPY src/SmtpAmpProxy.Smtp/SmtpAmpProxy.Smtp.csproj src/SmtpAmpProxy.Smtp/
COPY src/SmtpAmpProxy.Queue/SmtpAmpProxy.Queue.csproj src/SmtpAmpProxy.Queue/
RUN dotnet restore src/SmtpAmpProxy/SmtpAmpProxy.csproj
COPY src/ src/
COPY config/ config/
RUN dotnet publish src/SmtpAmpProxy/SmtpAmpProxy.csproj --no-restore -c Release -o /app/publish -p:UseAppHost=false

# Run: ASP.NET Core runtime (the operations port is a Kestrel endpoint), numeric non-root user.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app/publish ./

# /app/config holds appsettings.json (mount a ConfigMap or file over it); /app/certs is where
# tls.crt and tls.key are mounted; /app/outbox serves only the file-drop upstream;
# /var/spool/smtp-amp-proxy is Queue mode's spool and must be a volume that outlives the container.
# SENDGRID_API_KEY comes from the environment at run time and is never baked into the image.
RUN mkdir -p /app/certs /app/outbox /var/spool/smtp-amp-proxy \
    && chown "$APP_UID" /app/outbox /var/spool/smtp-amp-proxy
VOLUME /var/spool/smtp-amp-proxy
USER $APP_UID
EXPOSE 2525 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["dotnet", "/app/smtp-amp-proxy.dll", "health"]
ENTRYPOINT ["dotnet", "/app/smtp-amp-proxy.dll"]
