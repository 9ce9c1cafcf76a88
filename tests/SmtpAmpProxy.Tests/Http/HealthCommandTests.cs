using SmtpAmpProxy.Cli;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Http;

/// <summary><c>smtp-amp-proxy health</c>, the container's HEALTHCHECK.</summary>
public sealed class HealthCommandTests
{
    [Fact]
    public async Task Health_ProxyAnswers_ExitsZero()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" });
        var output = new StringWriter();

        var exit = await HealthCommand.RunAsync(["--url", $"http://{proxy.HttpEndPoint}/healthz"], output, new StringWriter());

        Assert.Equal(HealthCommand.Healthy, exit);
        Assert.Contains("200", output.ToString());
    }

    [Fact]
    public async Task Health_UrlFromConfiguredEndpoint_ExitsZero()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" });

        var exit = await HealthCommand.RunAsync(
            [], new StringWriter(), new StringWriter(),
            new Dictionary<string, string?> { ["Proxy__Http__Endpoint"] = $"0.0.0.0:{proxy.HttpEndPoint.Port}" });

        Assert.Equal(HealthCommand.Healthy, exit);
    }

    [Fact]
    public async Task Health_PortSetOnlyInTheConfigurationFile_ExitsZero()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" });
        using var directory = new TempDirectory();
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, $$"""{ "Proxy": { "Http": { "Endpoint": "0.0.0.0:{{proxy.HttpEndPoint.Port}}" } } }""", TestContext.Current.CancellationToken);
        var output = new StringWriter();

        var exit = await HealthCommand.RunAsync(["--config", file], output, new StringWriter(), new Dictionary<string, string?>());

        Assert.Equal(HealthCommand.Healthy, exit);
        Assert.Contains($"127.0.0.1:{proxy.HttpEndPoint.Port}", output.ToString());
    }

    [Fact]
    public async Task Health_CommandLineOverridesTheFile_AsForTheServer()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" });
        using var directory = new TempDirectory();
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, $$"""{ "Proxy": { "Http": { "Endpoint": "127.0.0.1:{{MetricsEndpointTests.ClosedPort()}}" } } }""", TestContext.Current.CancellationToken);

        var exit = await HealthCommand.RunAsync(
            ["--config", file, $"--Proxy:Http:Endpoint=127.0.0.1:{proxy.HttpEndPoint.Port}"], new StringWriter(), new StringWriter(), new Dictionary<string, string?>());

        Assert.Equal(HealthCommand.Healthy, exit);
    }

    [Fact]
    public async Task Health_ConfigurationWithUnknownKey_ExitsTwoNamingIt()
    {
        var error = new StringWriter();

        var exit = await HealthCommand.RunAsync(["--Proxy:Http:Endpoin=127.0.0.1:1"], new StringWriter(), error, new Dictionary<string, string?>());

        Assert.Equal(HealthCommand.UsageError, exit);
        Assert.Contains("Endpoin", error.ToString());
    }

    [Fact]
    public async Task Health_NothingListening_ExitsOne()
    {
        var error = new StringWriter();

        var exit = await HealthCommand.RunAsync([$"--url=http://127.0.0.1:{MetricsEndpointTests.ClosedPort()}/healthz"], new StringWriter(), error);

        Assert.Equal(HealthCommand.Unhealthy, exit);
        Assert.StartsWith("unhealthy:", error.ToString());
    }

    [Fact]
    public async Task Health_Answers404_ExitsOne()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" });
        var error = new StringWriter();

        var exit = await HealthCommand.RunAsync(["--url", $"http://{proxy.HttpEndPoint}/nothing-here"], new StringWriter(), error);

        Assert.Equal(HealthCommand.Unhealthy, exit);
        Assert.Contains("404", error.ToString());
    }

    [Theory]
    [InlineData("--port")]
    [InlineData("--url")]
    public async Task Health_BadArguments_ExitsTwo(string argument)
    {
        Assert.Equal(HealthCommand.UsageError, await HealthCommand.RunAsync([argument], new StringWriter(), new StringWriter()));
    }

    [Fact]
    public async Task Health_NotHttpUrl_ExitsTwo()
    {
        Assert.Equal(HealthCommand.UsageError, await HealthCommand.RunAsync(["--url", "ftp://127.0.0.1/healthz"], new StringWriter(), new StringWriter()));
    }

    [Theory]
    [InlineData(null, "http://127.0.0.1:8080/healthz")]
    [InlineData("0.0.0.0:9090", "http://127.0.0.1:9090/healthz")]
    [InlineData("[::]:9090", "http://[::1]:9090/healthz")]
    [InlineData("10.1.2.3:8081", "http://10.1.2.3:8081/healthz")]
    [InlineData("none", "http://127.0.0.1:8080/healthz")]
    [InlineData("garbage", "http://127.0.0.1:8080/healthz")]
    public void DefaultUrl_FollowsTheConfiguredEndpoint(string? configured, string expected)
    {
        Assert.Equal(expected, HealthCommand.DefaultUrl(configured));
    }
}
