using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Security;

/// <summary>TLS on the appliance, set up only through configuration: PEM files, two listeners, Require, MinimumVersion.</summary>
public sealed class TlsConfigurationTests : IDisposable
{
    // Python's smtplib: send one message over STARTTLS or implicit TLS, optionally capped at TLS 1.2.
    // Prints "OK <final reply>" or "FAIL <exception type>: <text>".
    private const string SendScript = """
        import smtplib, ssl, sys
        host, port, mode, cap = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if cap == "tls12":
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        message = b"From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: tls\r\nMessage-ID: <tls-" + mode.encode() + b"@example.com>\r\n\r\nover TLS\r\n"
        try:
            if mode == "implicit":
                client = smtplib.SMTP_SSL(host, port, timeout=30, context=context)
            else:
                client = smtplib.SMTP(host, port, timeout=30)
                client.ehlo("sender.test")
                client.starttls(context=context)
            client.ehlo("sender.test")
            client.mail("sender@example.com")
            client.rcpt("rcpt@example.net")
            code, text = client.data(message)
            print("OK %d %s %s" % (code, text.decode(), client.sock.version()))
            client.quit()
        except Exception as e:
            print("FAIL %s: %s" % (type(e).__name__, e))
        """;

    private readonly TempDirectory _certs = new();

    public TlsConfigurationTests() => TestCertificate.WriteSelfSigned(CertificatePath, KeyPath).Dispose();

    private string CertificatePath => _certs.File("tls.crt");

    private string KeyPath => _certs.File("tls.key");

    public void Dispose() => _certs.Dispose();

    private Task<ProxyTestHost> StartAsync(string minimumVersion = "Tls12") => ProxyTestHost.StartAsync(new Dictionary<string, string>
    {
        ["Proxy:Listen:1:Endpoint"] = "127.0.0.1:0",
        ["Proxy:Listen:1:Tls"] = "Implicit",
        ["Proxy:Tls:CertificatePath"] = CertificatePath,
        ["Proxy:Tls:KeyPath"] = KeyPath,
        ["Proxy:Tls:Require"] = "true",
        ["Proxy:Tls:MinimumVersion"] = minimumVersion,
    });

    private static IPEndPoint ImplicitEndPoint(ProxyTestHost proxy) =>
        proxy.Services.GetRequiredService<SmtpProxyService>().BoundEndPoints[1];

    private static string PythonSend(IPEndPoint endPoint, string mode, string cap = "none")
    {
        var python = Peers.RequirePython();
        var result = Peers.Run(python,
            ["-c", SendScript, endPoint.Address.ToString(), endPoint.Port.ToString(CultureInfo.InvariantCulture), mode, cap],
            TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.StdErr);
        return result.StdOut.Trim();
    }

    [Fact]
    public async Task RequireTls_MailBeforeStartTls_Gets530AndNothingIsRelayed()
    {
        await using var proxy = await StartAsync();
        var (client, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.Contains("STARTTLS", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("530 5.7.0", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("220", await client.CommandAsync("STARTTLS"));
            await client.StartTlsAsync();
            Assert.DoesNotContain("STARTTLS", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
        }

        Assert.Empty(proxy.OutboxFiles());
    }

    [Fact]
    public async Task Smtplib_OverStartTls_IsRelayed()
    {
        await using var proxy = await StartAsync();

        var outcome = PythonSend(proxy.EndPoint, "starttls");

        Assert.StartsWith("OK 250", outcome);
        Assert.Single(proxy.OutboxFiles());
    }

    [Fact]
    public async Task Smtplib_OverImplicitTls_IsRelayed()
    {
        await using var proxy = await StartAsync();

        var outcome = PythonSend(ImplicitEndPoint(proxy), "implicit");

        Assert.StartsWith("OK 250", outcome);
        Assert.Single(proxy.OutboxFiles());
    }

    [Fact]
    public async Task Swaks_OverImplicitTls_IsRelayed()
    {
        var swaks = Peers.RequireTool("swaks", "swaks");
        await using var proxy = await StartAsync();
        var endPoint = ImplicitEndPoint(proxy);

        var result = Peers.Run(swaks,
            ["--server", $"{endPoint.Address}:{endPoint.Port}", "--tlsc", "--from", "sender@example.com", "--to", "rcpt@example.net"],
            TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.Single(proxy.OutboxFiles());
    }

    [Theory]
    [InlineData("starttls")]
    [InlineData("implicit")]
    public async Task MinimumTls13_Tls12OnlyClientIsRefused_Tls13ClientIsServed(string mode)
    {
        await using var proxy = await StartAsync("Tls13");
        var endPoint = mode == "implicit" ? ImplicitEndPoint(proxy) : proxy.EndPoint;

        var refused = PythonSend(endPoint, mode, "tls12");
        var served = PythonSend(endPoint, mode);

        Assert.StartsWith("FAIL", refused);
        Assert.Contains("TLSv1.3", served);
        Assert.StartsWith("OK 250", served);
        Assert.Single(proxy.OutboxFiles());
    }
}
