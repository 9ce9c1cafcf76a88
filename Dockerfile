# Build: the SDK image publishes the appliance; the runtime image carries only the output.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props SmtpAmpProxy.sln ./
COPY src/ src/
RUN dotnet publish src/SmtpAmpProxy/SmtpAmpProxy.csproj -c Release -o /app/publish --no-self-contained

FROM mcr.microsoft.com/dotnet/runtime:10.0 AS runtime
WORKDIR /app
COPY --from=build /app/publish ./
COPY config/appsettings.json /app/config/appsettings.json
# certs/ is mounted here; the API key comes from SENDGRID_API_KEY.
RUN mkdir -p /app/certs /app/outbox && chown -R app:app /app/outbox
USER app
EXPOSE 2525 8080
ENTRYPOINT ["dotnet", "/app/smtp-amp-proxy.dll"]
