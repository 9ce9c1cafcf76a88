using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Configuration;

/// <summary>An operator's configuration mistake stops the real process with exit code 2 and one line naming the key.</summary>
public sealed class StartupTests
{
    [Fact]
    public void Serve_WithoutApiKey_ExitsTwoNamingThePassword()
    {
        var result = ProxyProcess.Run(["--config", Path.Combine(RepoPaths.Root, "config", "appsettings.json")]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Proxy:Upstream:Password", line);
    }

    [Fact]
    public void Serve_WithBadTlsMode_ExitsTwoNamingTheKey()
    {
        var result = ProxyProcess.Run(["--Proxy:Listen:0:Tls=Maybe"], new Dictionary<string, string?> { ["SENDGRID_API_KEY"] = "x" });

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Proxy:Listen:0:Tls", result.StdErr);
    }

    [Fact]
    public void Serve_ImplicitListenerWithoutCertificate_ExitsTwoNamingTheCertificate()
    {
        using var directory = new TempDirectory();
        var result = ProxyProcess.Run(
            ["--Proxy:Listen:0:Tls=Implicit", "--Proxy:Listen:0:Endpoint=127.0.0.1:0", $"--Proxy:Tls:CertificatePath={directory.File("none.crt")}"],
            new Dictionary<string, string?> { ["SENDGRID_API_KEY"] = "x" });

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Proxy:Tls:CertificatePath", result.StdErr);
    }

    [Fact]
    public void Serve_PortAlreadyInUse_ExitsTwoWithOneLine()
    {
        using var directory = new TempDirectory();
        var occupied = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupied.Start();
        try
        {
            var port = ((System.Net.IPEndPoint)occupied.LocalEndpoint).Port;
            var result = ProxyProcess.Run(
            [
                $"--Proxy:Listen:0:Endpoint=127.0.0.1:{port}", "--Proxy:Upstream:Mode=Directory",
                $"--Proxy:Upstream:Directory={directory.File("outbox")}", "--Proxy:Http:Endpoint=",
            ]);

            Assert.Equal(2, result.ExitCode);
            var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("cannot listen", line);
        }
        finally
        {
            occupied.Stop();
        }
    }
}
