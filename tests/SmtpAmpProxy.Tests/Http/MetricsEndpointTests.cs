using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Http;

/// <summary>Messages through the in-process proxy, then /metrics in Prometheus text format.</summary>
public sealed class MetricsEndpointTests
{
    private static readonly Dictionary<string, string> HttpOn = new() { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" };

    [Fact]
    public async Task Metrics_AfterRepairedRelayedAndRejectedMessages_CountsEachByLabel()
    {
        await using var proxy = await ProxyTestHost.StartAsync(HttpOn);
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            var repaired = TestMessages.Alternative("misordered", TestMessages.Plain, TestMessages.Html, TestMessages.Amp);
            Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(repaired)));
            Assert.StartsWith("554", await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(TestMessages.MisplacedAmp("misplaced"))));

            // Scraped while the session is open: the gauge reads the SMTP server at scrape time.
            var during = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/metrics");
            Assert.Equal(1, OpsHttp.Sample(during.Body, "smtp_amp_proxy_sessions_active"));
        }

        var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/metrics");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.StartsWith("text/plain; version=0.0.4", answer.ContentType);
        OpsHttp.AssertWellFormed(answer.Body);
        var metrics = answer.Body;
        Assert.Equal(2, OpsHttp.Sample(metrics, "smtp_amp_proxy_messages_received_total"));
        Assert.Equal(1, OpsHttp.Sample(metrics, "smtp_amp_proxy_messages_relayed_total"));
        Assert.Equal(1, OpsHttp.Sample(metrics, "smtp_amp_proxy_messages_repaired_total{action=\"amp-after-html\"}"));
        Assert.Equal(1, OpsHttp.Sample(metrics, "smtp_amp_proxy_messages_rejected_total{code=\"amp-misplaced\"}"));
        Assert.Contains("# TYPE smtp_amp_proxy_messages_relayed_total counter\n", metrics);
        Assert.Contains("# TYPE smtp_amp_proxy_relay_duration_seconds histogram\n", metrics);
        Assert.Contains("# TYPE smtp_amp_proxy_sessions_active gauge\n", metrics);
        Assert.Equal(1, OpsHttp.Sample(metrics, "smtp_amp_proxy_relay_duration_seconds_count"));
        Assert.Equal(1, OpsHttp.Sample(metrics, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"+Inf\"}"));
    }

    [Fact]
    public async Task Metrics_PlainMessage_CountsRelayedWithoutRepairs()
    {
        await using var proxy = await ProxyTestHost.StartAsync(HttpOn);
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(TestMessages.PlainText("plain"))));
        }

        var metrics = (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/metrics")).Body;

        Assert.Equal(1, OpsHttp.Sample(metrics, "smtp_amp_proxy_messages_relayed_total"));
        Assert.DoesNotContain("action=", string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("smtp_amp_proxy_messages_repaired_total", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task Metrics_UpstreamUnreachable_CountsKindUnreachableAndRepliesWith451()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>(HttpOn)
        {
            ["Proxy:Upstream:Mode"] = "Smtp",
            ["Proxy:Upstream:Host"] = "127.0.0.1",
            ["Proxy:Upstream:Port"] = ClosedPort().ToString(CultureInfo.InvariantCulture),
            ["Proxy:Upstream:Tls"] = "None",
            ["Proxy:Upstream:Username"] = "",
            ["Proxy:Upstream:ConnectTimeout"] = "00:00:05",
        });
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("451 4.4.1", await client.CommandAsync("MAIL FROM:<a@example.com>"));
        }

        var metrics = (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/metrics")).Body;

        Assert.Equal(1, OpsHttp.Sample(metrics, "smtp_amp_proxy_upstream_errors_total{kind=\"unreachable\"}"));
        Assert.Equal(0, OpsHttp.Sample(metrics, "smtp_amp_proxy_messages_relayed_total"));
    }

    [Fact]
    public async Task Metrics_TwoHostsInOneProcess_DoNotSeeEachOthersMessages()
    {
        await using var busy = await ProxyTestHost.StartAsync(HttpOn);
        await using var idle = await ProxyTestHost.StartAsync(HttpOn);
        var (client, _) = await RawSmtpClient.ConnectAsync(busy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(TestMessages.PlainText("one"))));
        }

        Assert.Equal(1, OpsHttp.Sample((await OpsHttp.SendAsync(busy.HttpEndPoint, "/metrics")).Body, "smtp_amp_proxy_messages_relayed_total"));
        Assert.Equal(0, OpsHttp.Sample((await OpsHttp.SendAsync(idle.HttpEndPoint, "/metrics")).Body, "smtp_amp_proxy_messages_relayed_total"));
    }

    /// <summary>A port nothing listens on: bound by us, then released.</summary>
    internal static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
