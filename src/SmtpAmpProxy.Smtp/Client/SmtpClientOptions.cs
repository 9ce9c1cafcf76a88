using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>Where and how to relay: the upstream MTA (e.g. smtp.sendgrid.net:587, STARTTLS, user "apikey").</summary>
public sealed record SmtpClientOptions
{
    public string Host { get; init; } = "";

    public int Port { get; init; } = 587;

    public TlsMode Tls { get; init; } = TlsMode.StartTls;

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>The EHLO argument.</summary>
    public string ClientName { get; init; } = "smtp-amp-proxy.local";

    /// <summary>An extra trusted CA (PEM), trusted in addition to the system store; for tests and private relays.</summary>
    public string? CaCertificatePath { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long to wait for the reply after the end of data (RFC 5321 4.5.3.2.6 suggests 10 minutes).</summary>
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);

    // The password is a secret (a SendGrid API key): keep it out of ToString, which loggers and debuggers call.
    public override string ToString() =>
        $"{{ Host = {Host}, Port = {Port}, Tls = {Tls}, Username = {Username}, Password = {(Password is null ? "null" : "***")} }}";
}
