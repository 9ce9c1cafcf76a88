using System.Globalization;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Interop;

/// <summary>Postfix smtp-source → proxy → Postfix smtp-sink: two Postfix tools on either side of the proxy.</summary>
public sealed class SmtpSinkRelayTests
{
    [Fact]
    public async Task SmtpSourceThroughProxy_EveryMessageReachesSmtpSink()
    {
        var smtpSource = Peers.RequireTool("smtp-source", "postfix");
        using var sink = SmtpSinkUpstream.Start();
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Upstream:Mode"] = "Smtp",
            ["Proxy:Upstream:Host"] = "127.0.0.1",
            ["Proxy:Upstream:Port"] = sink.Port.ToString(CultureInfo.InvariantCulture),
            ["Proxy:Upstream:Tls"] = "None",
            ["Proxy:Upstream:Username"] = "",
            ["Proxy:Upstream:MaxConnections"] = "4",
            ["Proxy:Upstream:MaxConnectionsPerClient"] = "4",
        });
        const int Messages = 60;

        var result = Peers.Run(smtpSource,
        [
            "-s", "6", "-m", Messages.ToString(CultureInfo.InvariantCulture), "-l", "5000", "-f", "sender@example.com", "-t", "rcpt@example.net",
            $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}",
        ], TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.Equal(Messages, proxy.Logs.WithEvent(3100).Count(l => l.Field("Outcome") == "relayed"));
        Assert.Equal(Messages, sink.MessageCount);
    }

    /// <summary>
    /// The upstream DATA opens when the sender says DATA; a message the proxy then refuses must leave
    /// Postfix's smtp-sink with nothing, and the next message must still arrive.
    /// </summary>
    [Fact]
    public async Task RefusedAfterUpstreamDataOpened_SmtpSinkGetsNoContent_NextMessageArrives()
    {
        using var sink = SmtpSinkUpstream.Start();
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(sink.Port));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("554 5.6.0 amp-misplaced",
                await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.MisplacedAmp("refused"))));
            Assert.StartsWith("250",
                await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText("after"))));
        }

        Assert.Equal(1, sink.MessageCount);
        Assert.Equal(["rejected", "relayed"], proxy.Logs.WithEvent(3100).Select(l => l.Field("Outcome")));
    }
}
