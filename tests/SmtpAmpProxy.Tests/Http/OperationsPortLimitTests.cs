using System.Net;
using System.Net.Sockets;
using System.Text;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Http;

/// <summary>
/// Slow or many requests on the operations port must not starve the probes: a liveness probe that goes
/// unanswered gets the pod restarted, which is what an attacker holding the port would want.
/// </summary>
public sealed class OperationsPortLimitTests
{
    private static readonly byte[] IncompleteRequest = Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: ops.test\r\n");

    [Fact]
    public async Task Healthz_WhileHundredConnectionsHoldIncompleteHeaders_Answers200()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" });
        var held = await HoldIncompleteRequestsAsync(proxy.HttpEndPoint, 100);
        try
        {
            var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/healthz");

            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.All(held, socket => Assert.True(socket.Connected));
        }
        finally
        {
            held.ForEach(socket => socket.Dispose());
        }
    }

    [Fact]
    public async Task Healthz_WhileSixtyFourReadinessProbesWaitForASilentUpstream_Answers200()
    {
        // Accepts connections (the kernel's backlog) and never greets: every probe waits for its timeout.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(128);
        var settings = ProxyTestHost.SmtpUpstreamSettings(((IPEndPoint)silent.LocalEndpoint).Port,
            ("Proxy:Http:Endpoint", "127.0.0.1:0"), ("Proxy:Upstream:ConnectTimeout", "00:00:03"));
        await using var proxy = await ProxyTestHost.StartAsync(settings);
        var probes = Enumerable.Range(0, 64).Select(_ => OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz")).ToList();

        var live = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/healthz");

        Assert.Equal(HttpStatusCode.OK, live.Status);
        Assert.Contains(probes, probe => !probe.IsCompleted);
        var answers = await Task.WhenAll(probes);
        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status));

        // Beyond the readiness share a probe is turned away at once instead of queueing behind the others.
        Assert.Contains(answers, answer => answer.Body.Length == 0);
        Assert.Contains(answers, answer => answer.Body.StartsWith("not ready: upstream: unreachable", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connection_HeadersSlowerThanTheTimeout_IsClosed()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Http:Endpoint"] = "127.0.0.1:0",
            ["Proxy:Http:RequestHeadersTimeout"] = "00:00:01",
        });
        using var socket = Assert.Single(await HoldIncompleteRequestsAsync(proxy.HttpEndPoint, 1));

        // Bounded: the server's 1 s header timeout (checked on Kestrel's 1 s heartbeat) must close it first.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(20));
        var buffer = new byte[4096];
        var received = new StringBuilder();
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, bound.Token)) > 0)
        {
            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        Assert.DoesNotContain("200 OK", received.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connections_OverMaxConnections_NotServed()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Http:Endpoint"] = "127.0.0.1:0",
            ["Proxy:Http:MaxConnections"] = "4",
        });
        var held = await HoldIncompleteRequestsAsync(proxy.HttpEndPoint, 4);
        try
        {
            var over = await Record.ExceptionAsync(() => OpsHttp.SendAsync(proxy.HttpEndPoint, "/healthz"));

            Assert.IsType<HttpRequestException>(over);
        }
        finally
        {
            held.ForEach(socket => socket.Dispose());
        }

        Assert.Equal(HttpStatusCode.OK, (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/healthz")).Status);
    }

    [Fact]
    public void Validate_ZeroHttpMaxConnections_NamesTheKey()
    {
        var options = new ProxyOptions
        {
            Upstream = new UpstreamOptions { Mode = UpstreamMode.Directory },
            Http = new HttpOptions { MaxConnections = 0 },
        };

        var error = Assert.Single(ProxyOptionsValidator.Validate(options, Path.GetTempPath()));

        Assert.Equal("Proxy:Http:MaxConnections: must be positive (is 0)", error);
    }

    /// <summary>Connections that each sent a request line and one header, and will never send the rest.</summary>
    private static async Task<List<Socket>> HoldIncompleteRequestsAsync(IPEndPoint endPoint, int count)
    {
        var sockets = new List<Socket>(count);
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            sockets.Add(socket);
            await socket.ConnectAsync(endPoint, TestContext.Current.CancellationToken);
            await socket.SendAsync(IncompleteRequest, SocketFlags.None, TestContext.Current.CancellationToken);
        }

        return sockets;
    }
}
