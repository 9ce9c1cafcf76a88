using SmtpAmpProxy.Tests.Faults;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Relay;

/// <summary>What the relay passes upstream, and what /metrics says about the upstream and its pool.</summary>
public sealed class UpstreamFidelityTests
{
    [Theory]
    [InlineData(true, "MAIL FROM:<sender@example.com> SIZE=4321")]
    [InlineData(false, "MAIL FROM:<sender@example.com>")]
    public async Task MailSize_PassedUpstreamOnlyWhenTheUpstreamOffersSize(bool offered, string expected)
    {
        await using var upstream = ScriptedUpstream.Start();
        upstream.ExtraExtensions = offered ? ["SIZE 10240000"] : [];
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO size.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com> SIZE=4321"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
            Assert.StartsWith("250", await client.SendDataAsync(TestMessages.DotStuff(TestMessages.PlainText("size"))));
        }

        Assert.Contains(expected, upstream.Lines);
    }

    [Fact]
    public async Task Metrics_AfterARelay_PoolGaugesWaitHistogramAndRepliesByStageAndClass()
    {
        await using var upstream = ScriptedUpstream.Start();
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port, ("Proxy:Http:Endpoint", "127.0.0.1:0")));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO metrics.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("550", await client.CommandAsync("RCPT TO:<nobody@example.net>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
            Assert.StartsWith("250", await client.SendDataAsync(TestMessages.DotStuff(TestMessages.PlainText("metrics"))));
        }

        var text = (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/metrics")).Body;

        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_pool_connections{state=\"idle\"}"));
        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_pool_connections{state=\"rented\"}"));
        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_pool_waiting"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_pool_wait_seconds_count"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_replies_total{class=\"2xx\",stage=\"mail\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_replies_total{class=\"5xx\",stage=\"rcpt\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_replies_total{class=\"2xx\",stage=\"rcpt\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_replies_total{class=\"3xx\",stage=\"data\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_replies_total{class=\"2xx\",stage=\"content\"}"));

        // A refused recipient is the upstream doing its job: no upstream error.
        Assert.Null(OpsHttp.Sample(text, "smtp_amp_proxy_upstream_errors_total{kind=\"refused\"}"));
    }
}
