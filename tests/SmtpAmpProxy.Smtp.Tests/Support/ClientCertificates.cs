using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>A throwaway CA and a server certificate it signed, with PEM files in a temp directory.</summary>
internal sealed class ClientCertificates : IDisposable
{
    private ClientCertificates(X509Certificate2 ca, X509Certificate2 server, string directory)
    {
        Ca = ca;
        Server = server;
        Directory = directory;
        CaPath = Path.Combine(directory, "ca.pem");
        ServerCertPath = Path.Combine(directory, "server.crt");
        ServerKeyPath = Path.Combine(directory, "server.key");
    }

    public X509Certificate2 Ca { get; }

    /// <summary>Has its private key; valid for 127.0.0.1 and localhost, or for the given name.</summary>
    public X509Certificate2 Server { get; }

    public string Directory { get; }

    public string CaPath { get; }

    public string ServerCertPath { get; }

    public string ServerKeyPath { get; }

    public static ClientCertificates Create(string? serverName = null)
    {
        string directory = Path.Combine(Path.GetTempPath(), "smtp-client-tls-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=SmtpAmpProxy Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        DateTimeOffset now = DateTimeOffset.UtcNow;
        X509Certificate2 ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + (serverName ?? "localhost"), serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        if (serverName is null)
        {
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
        }
        else
        {
            san.AddDnsName(serverName);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using X509Certificate2 signed = request.Create(ca, now.AddDays(-1), now.AddDays(30), RandomNumberGenerator.GetBytes(8));
        X509Certificate2 server = signed.CopyWithPrivateKey(serverKey);

        var result = new ClientCertificates(ca, server, directory);
        File.WriteAllText(result.CaPath, ca.ExportCertificatePem());
        File.WriteAllText(result.ServerCertPath, server.ExportCertificatePem());
        File.WriteAllText(result.ServerKeyPath, serverKey.ExportPkcs8PrivateKeyPem());
        return result;
    }

    public void Dispose()
    {
        Ca.Dispose();
        Server.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
