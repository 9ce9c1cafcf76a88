using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>
/// Certificate validation for the upstream, built once per options (the CA file is read once, not per
/// connection): the system store, plus an optional CA from a PEM file, and always the host name.
/// </summary>
internal sealed class ClientTls
{
    private readonly X509Certificate2Collection? _extraRoots;
    private readonly string _host;
    private readonly ILogger _logger;

    private ClientTls(string host, X509Certificate2Collection? extraRoots, ILogger logger)
    {
        _host = host;
        _extraRoots = extraRoots;
        _logger = logger;
        AuthenticationOptions = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            RemoteCertificateValidationCallback = Validate,
        };
    }

    public SslClientAuthenticationOptions AuthenticationOptions { get; }

    public static ClientTls Create(SmtpClientOptions options, ILogger logger)
    {
        X509Certificate2Collection? roots = null;
        if (!string.IsNullOrEmpty(options.CaCertificatePath))
        {
            roots = [];
            roots.ImportFromPemFile(options.CaCertificatePath);
            if (roots.Count == 0)
            {
                throw new InvalidOperationException($"No certificate found in the CA file {options.CaCertificatePath}.");
            }
        }

        return new ClientTls(options.Host, roots, logger);
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        // A name mismatch is never forgiven: trusting a CA says nothing about which host it vouches for.
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || _extraRoots is null || certificate is null)
        {
            ClientLog.CertificateRejected(_logger, _host, errors.ToString(), chain is null ? "" : ChainStatus(chain));
            return false;
        }

        // The chain failed against the system store: try again with the configured CA as a root.
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_extraRoots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (X509ChainElement element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        X509Certificate2 leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (custom.Build(leaf))
        {
            return true;
        }

        ClientLog.CertificateRejected(_logger, _host, errors.ToString(), ChainStatus(custom));
        return false;
    }

    private static string ChainStatus(X509Chain chain) =>
        string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
}
