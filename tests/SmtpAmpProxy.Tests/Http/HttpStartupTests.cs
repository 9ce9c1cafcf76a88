using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Http;

/// <summary>A mistake in Proxy:Http stops the real process like any other configuration error.</summary>
public sealed class HttpStartupTests
{
    [Fact]
    public void Serve_MalformedHttpEndpoint_ExitsTwoNamingTheKey()
    {
        using var directory = new TempDirectory();

        var result = ProxyProcess.Run(
        [
            "--Proxy:Http:Endpoint=localhost:8080", "--Proxy:Upstream:Mode=Directory", $"--Proxy:Upstream:Directory={directory.File("outbox")}",
            "--Proxy:Listen:0:Endpoint=127.0.0.1:0",
        ]);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("smtp-amp-proxy: configuration error: Proxy:Http:Endpoint:", result.StdErr);
    }
}
