using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Http;

/// <summary>/healthz, /readyz and the HTTP port itself, on the in-process proxy.</summary>
public sealed class HealthEndpointTests
{
    private static readonly Dictionary<string, string> HttpOn = new() { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" };

    [Fact]
    public async Task Healthz_WhileRunning_Answers200Ok()
    {
        await using var proxy = await ProxyTestHost.StartAsync(HttpOn);

        var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/healthz");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("ok", answer.Body.Trim());
    }

    [Fact]
    public async Task HttpEndpoint_PortZero_BindsLoopbackOnAnEphemeralPort()
    {
        await using var proxy = await ProxyTestHost.StartAsync(HttpOn);

        Assert.Equal(IPAddress.Loopback, proxy.HttpEndPoint.Address);
        Assert.NotEqual(0, proxy.HttpEndPoint.Port);
        Assert.Contains(proxy.Logs.WithEvent(3200), l => l.Message.Contains($"127.0.0.1:{proxy.HttpEndPoint.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Readyz_DirectoryUpstreamWritable_Answers200()
    {
        await using var proxy = await ProxyTestHost.StartAsync(HttpOn);

        var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("ready", answer.Body.Trim());
        Assert.Empty(Directory.GetFileSystemEntries(proxy.Outbox));
    }

    [Fact]
    public async Task Readyz_OutboxReplacedByAFile_Answers503NamingTheOutbox()
    {
        await using var proxy = await ProxyTestHost.StartAsync(HttpOn);
        Directory.Delete(proxy.Outbox);
        await File.WriteAllTextAsync(proxy.Outbox, "not a folder", TestContext.Current.CancellationToken);

        var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.StartsWith("not ready: upstream: outbox", answer.Body);
        Assert.Contains(proxy.Logs.WithEvent(3202), l => l.Message.Contains("outbox", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Readyz_SmtpUpstreamRefusesConnections_Answers503Unreachable()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>(HttpOn)
        {
            ["Proxy:Upstream:Mode"] = "Smtp",
            ["Proxy:Upstream:Host"] = "127.0.0.1",
            ["Proxy:Upstream:Port"] = MetricsEndpointTests.ClosedPort().ToString(CultureInfo.InvariantCulture),
            ["Proxy:Upstream:Tls"] = "None",
            ["Proxy:Upstream:Username"] = "",
        });

        var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.StartsWith("not ready: upstream: unreachable", answer.Body);
    }

    [Fact]
    public async Task Readyz_SmtpUpstreamAnswers_Answers200AndSendsNoMail()
    {
        using var sink = SmtpSinkUpstream.Start();
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>(HttpOn)
        {
            ["Proxy:Upstream:Mode"] = "Smtp",
            ["Proxy:Upstream:Host"] = "127.0.0.1",
            ["Proxy:Upstream:Port"] = sink.Port.ToString(CultureInfo.InvariantCulture),
            ["Proxy:Upstream:Tls"] = "None",
            ["Proxy:Upstream:Username"] = "",
        });

        var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(0, sink.MessageCount);
    }

    [Fact]
    public async Task UnknownPath_Answers404()
    {
        await using var proxy = await ProxyTestHost.StartAsync(HttpOn);

        Assert.Equal(HttpStatusCode.NotFound, (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/admin")).Status);
    }

    [Fact]
    public async Task Post_Answers405WithAllowHeader()
    {
        await using var proxy = await ProxyTestHost.StartAsync(HttpOn);

        var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/healthz", HttpMethod.Post);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.Status);
    }

    [Fact]
    public async Task HttpEndpoint_None_BindsNothing()
    {
        await using var proxy = await ProxyTestHost.StartAsync();

        Assert.Null(proxy.Services.GetRequiredService<OperationsPort>().BoundEndPoint);
        Assert.Single(proxy.Logs.WithEvent(3201));
    }

    [Theory]
    [InlineData("0.0.0.0:8080", "0.0.0.0:8080")]
    [InlineData("127.0.0.1:0", "127.0.0.1:0")]
    [InlineData("*:9090", "0.0.0.0:9090")]
    [InlineData("[::1]:8080", "[::1]:8080")]
    public void ParseEndpoint_AddressAndPort_ReturnsEndpoint(string configured, string expected)
    {
        Assert.Equal(IPEndPoint.Parse(expected), OperationsPort.ParseEndpoint(configured));
    }

    [Theory]
    [InlineData("")]
    [InlineData("none")]
    [InlineData("None")]
    public void ParseEndpoint_EmptyOrNone_ReturnsNull(string configured)
    {
        Assert.Null(OperationsPort.ParseEndpoint(configured));
    }

    [Theory]
    [InlineData("8080")]
    [InlineData("127.0.0.1")]
    [InlineData("localhost:8080")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("::1:8080")]
    public void ParseEndpoint_Malformed_ThrowsNamingTheKey(string configured)
    {
        var error = Assert.Throws<ConfigurationException>(() => OperationsPort.ParseEndpoint(configured));
        Assert.StartsWith("Proxy:Http:Endpoint:", error.Message);
    }
}
