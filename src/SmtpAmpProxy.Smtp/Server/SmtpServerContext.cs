using System.Net.Security;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>What every session of one server shares; built once, before the first connection.</summary>
internal sealed class SmtpServerContext
{
    public SmtpServerContext(SmtpServerOptions options, ISmtpSessionHandlerFactory handlers, ILogger logger, TimeProvider time)
    {
        Options = options;
        Handlers = handlers;
        Logger = logger;
        Time = time;
        Replies = new SmtpReplies(options);
        AuthThrottle = new AuthFailureThrottle(options, time);
        Spill = options.Spill ?? new SpillFolder(options.TempDirectory);
        if (options.Certificate is not null)
        {
            // Built once: the chain is resolved here, not on every handshake (as Kestrel does).
            TlsOptions = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = SslStreamCertificateContext.Create(options.Certificate, additionalCertificates: null),
                EnabledSslProtocols = options.TlsProtocols,
                ClientCertificateRequired = false,
                CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            };
        }
    }

    public SmtpServerOptions Options { get; }

    public ISmtpSessionHandlerFactory Handlers { get; }

    public ILogger Logger { get; }

    public TimeProvider Time { get; }

    public SpillFolder Spill { get; }

    public SmtpReplies Replies { get; }

    public AuthFailureThrottle AuthThrottle { get; }

    public SslServerAuthenticationOptions? TlsOptions { get; }
}
