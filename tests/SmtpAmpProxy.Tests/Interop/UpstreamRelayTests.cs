using System.Net;
using System.Net.Sockets;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Interop;

/// <summary>
/// Python smtplib → proxy → aiosmtpd: both ends are peers we did not write. Mirror semantics:
/// what the upstream says is what the sender hears.
/// </summary>
public sealed class UpstreamRelayTests
{
    private static Task<ProxyTestHost> StartProxyAsync(int upstreamPort) => ProxyTestHost.StartAsync(new Dictionary<string, string>
    {
        ["Proxy:Upstream:Mode"] = "Smtp",
        ["Proxy:Upstream:Host"] = "127.0.0.1",
        ["Proxy:Upstream:Port"] = upstreamPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Proxy:Upstream:Tls"] = "None",
        ["Proxy:Upstream:Username"] = "",
        ["Proxy:Upstream:ConnectTimeout"] = "00:00:10",
        ["Proxy:Upstream:CommandTimeout"] = "00:00:30",
    });

    [Fact]
    public async Task CompliantMessage_ReachesAiosmtpdByteIdenticalWithUpstreamQueueId()
    {
        using var upstream = AiosmtpdUpstream.Start();
        await using var proxy = await StartProxyAsync(upstream.Port);
        var message = TestMessages.Alternative("compliant", TestMessages.Amp, TestMessages.Plain, TestMessages.Html);

        var outcome = PythonSmtp.Send(proxy.EndPoint, "sender@example.com", ["rcpt@example.net"], message);

        Assert.True(outcome.Ok, $"{outcome.Code} {outcome.Text}");
        var stored = await File.ReadAllBytesAsync(Assert.Single(upstream.Messages()), TestContext.Current.CancellationToken);
        Assert.Equal(message, TestMessages.WithoutPrependedTrace(stored));
        var line = Assert.Single(proxy.Logs.WithEvent(3100));
        Assert.Equal("relayed", line.Field("Outcome"));
        Assert.Equal("AIO1", line.Field("QueueId"));
    }

    [Fact]
    public async Task MisorderedMessage_ReachesAiosmtpdRepaired()
    {
        using var upstream = AiosmtpdUpstream.Start();
        await using var proxy = await StartProxyAsync(upstream.Port);
        var message = TestMessages.Alternative("late-amp", TestMessages.Html, TestMessages.Plain, TestMessages.Amp, TestMessages.Amp);

        var outcome = PythonSmtp.Send(proxy.EndPoint, "sender@example.com", ["rcpt@example.net"], message);

        Assert.True(outcome.Ok, $"{outcome.Code} {outcome.Text}");
        var summary = PythonMime.Summarise(Assert.Single(upstream.Messages()));
        Assert.Equal([TestMessages.Amp, TestMessages.Html, TestMessages.Plain], Assert.Single(summary.Alternatives));
    }

    [Fact]
    public async Task RejectedMessage_NeverReachesAiosmtpd()
    {
        using var upstream = AiosmtpdUpstream.Start();
        await using var proxy = await StartProxyAsync(upstream.Port);

        var outcome = PythonSmtp.Send(proxy.EndPoint, "sender@example.com", ["rcpt@example.net"], TestMessages.MisplacedAmp("bad"));

        Assert.False(outcome.Ok);
        Assert.Equal(554, outcome.Code);
        Assert.Contains("amp-misplaced", outcome.Text);
        Assert.Empty(upstream.Messages());

        // The upstream connection was reset, not poisoned: the next message goes through.
        Assert.True(PythonSmtp.Send(proxy.EndPoint, "sender@example.com", ["rcpt@example.net"], TestMessages.PlainText("after")).Ok);
        Assert.Single(upstream.Messages());
    }

    [Fact]
    public async Task PerRecipient550_IsMirroredAndOtherRecipientsStillGetTheMessage()
    {
        using var upstream = AiosmtpdUpstream.Start("--reject-rcpt-prefix", "nobody");
        await using var proxy = await StartProxyAsync(upstream.Port);

        var outcome = PythonSmtp.Send(proxy.EndPoint, "sender@example.com", ["nobody@example.net", "rcpt@example.net"], TestMessages.PlainText("partial"));

        Assert.True(outcome.Ok);
        Assert.Equal(550, outcome.Refused["nobody@example.net"]);
        Assert.Single(upstream.Messages());
        Assert.Contains("rcpt@example.net", await File.ReadAllTextAsync(Path.ChangeExtension(upstream.Messages()[0], ".json"), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Upstream452AtEndOfData_IsMirroredAsTransient()
    {
        using var upstream = AiosmtpdUpstream.Start("--tempfail-marker", "TEMPFAIL-ME");
        await using var proxy = await StartProxyAsync(upstream.Port);

        var outcome = PythonSmtp.Send(proxy.EndPoint, "sender@example.com", ["rcpt@example.net"], TestMessages.PlainText("x", "TEMPFAIL-ME\r\n"));

        Assert.False(outcome.Ok);
        Assert.Equal("data", outcome.Stage);
        Assert.Equal(452, outcome.Code);
        // An upstream refusing a message is not an upstream fault: its own outcome.
        Assert.Equal("upstream-refused", Assert.Single(proxy.Logs.WithEvent(3100)).Field("Outcome"));
    }

    [Fact]
    public async Task UnreachableUpstream_Gets451At4_4_1()
    {
        // A port that was just free: nothing listens there.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var proxy = await StartProxyAsync(port);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("451 4.4.1", await client.CommandAsync("MAIL FROM:<a@example.com>"));
        }
    }
}
