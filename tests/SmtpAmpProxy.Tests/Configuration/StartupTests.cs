using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Hosting;
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
    public void Serve_ZeroMaxRecipients_ExitsTwoWithOneLineNamingTheKey()
    {
        var result = ProxyProcess.Run(
            ["--Proxy:Limits:MaxRecipients=0", "--Proxy:Upstream:Mode=Directory", "--Proxy:Http:Endpoint=none"],
            new Dictionary<string, string?> { ["SENDGRID_API_KEY"] = "x" });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("smtp-amp-proxy: configuration error: Proxy:Limits:MaxRecipients: must be positive (is 0)", line.Trim());
    }

    [Fact]
    public async Task Host_InvalidOptions_RefusesToStartBeforeListening()
    {
        var configuration = ProxyConfiguration.Load(
            ["--Proxy:Upstream:Mode=Directory", "--Proxy:Upstream:CommandTimeout=00:00:00", "--Proxy:Listen:0:Endpoint=127.0.0.1:0", "--Proxy:Http:Endpoint=none"],
            new Dictionary<string, string?>());
        using var host = ProxyHost.Build(configuration);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal("Proxy:Upstream:CommandTimeout: must be a positive time span such as 00:05:00 (is 00:00:00)", Assert.Single(error.Failures));
        Assert.False(host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.IsCancellationRequested);
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
