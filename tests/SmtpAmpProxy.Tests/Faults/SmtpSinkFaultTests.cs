using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Tests.Support;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Tests.Faults;

/// <summary>Upstream faults made by a peer we did not write: Postfix's smtp-sink, killed, restarted, or told to misbehave.</summary>
public sealed class SmtpSinkFaultTests
{
    private static Task<ProxyTestHost> StartProxyAsync(int port, string timeout = "00:00:30") => ProxyTestHost.StartAsync(new Dictionary<string, string>
    {
        ["Proxy:Upstream:Mode"] = "Smtp",
        ["Proxy:Upstream:Host"] = "127.0.0.1",
        ["Proxy:Upstream:Port"] = port.ToString(CultureInfo.InvariantCulture),
        ["Proxy:Upstream:Tls"] = "None",
        ["Proxy:Upstream:Username"] = "",
        ["Proxy:Upstream:MaxConnections"] = "4",
        ["Proxy:Upstream:MaxConnectionsPerClient"] = "4",
        ["Proxy:Upstream:ConnectTimeout"] = timeout,
        ["Proxy:Upstream:CommandTimeout"] = timeout,
        ["Proxy:Upstream:DataTimeout"] = timeout,
    });

    private static SmtpConnectionPool Pool(ProxyTestHost proxy) =>
        ((SmtpUpstream)proxy.Services.GetRequiredService<IUpstream>()).Pool;

    private static async Task<string> SendAsync(ProxyTestHost proxy, string id)
    {
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            return await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText(id)));
        }
    }

    [Fact]
    public async Task UpstreamKilledAndRestartedOnSamePort_EveryLaterMessageGets250()
    {
        using var sink = SmtpSinkUpstream.Start();
        await using var proxy = await StartProxyAsync(sink.Port);
        const int Before = 5;
        const int After = 10;

        // Two senders at once, so the pool holds more than one connection to the sink that is about to die.
        var first = await Task.WhenAll(Enumerable.Range(0, Before).Select(i => SendAsync(proxy, $"before-{i}")));
        Assert.All(first, reply => Assert.StartsWith("250", reply));
        Assert.True(Pool(proxy).IdleCount >= 1);

        sink.Restart();

        var replies = new List<string>();
        for (var i = 0; i < After; i++)
        {
            replies.Add(await SendAsync(proxy, $"after-{i}"));
        }

        Assert.All(replies, reply => Assert.StartsWith("250", reply));
        Assert.Equal(Before + After, sink.MessageCount);
        Assert.Equal(Before + After, proxy.Logs.WithEvent(3100).Count(l => l.Field("Outcome") == "relayed"));
    }

    [Theory]
    [InlineData("-q", "data", "451 4.4.2")]   // disconnects without a reply after DATA
    [InlineData("-Q", "rcpt", "451 4.4.2")]   // 421 and disconnect at RCPT: the upstream is gone, not the proxy
    [InlineData("-r", "data", "4")]           // a soft (4xx) refusal of DATA, mirrored
    [InlineData("-f", "rcpt", "5")]           // a hard (5xx) refusal of RCPT, mirrored
    [InlineData("-f", "mail", "5")]           // a hard refusal of MAIL, given to the sender at RCPT
    [InlineData("-r", "mail", "4")]           // a soft refusal of MAIL, given to the sender at RCPT
    public async Task SinkFault_SenderGetsNo250_AndAfterARestartMailFlows(string flag, string command, string expected)
    {
        using var sink = SmtpSinkUpstream.Start(flag, command);
        await using var proxy = await StartProxyAsync(sink.Port);

        var reply = await SendAsync(proxy, "faulted");

        TestContext.Current.TestOutputHelper?.WriteLine($"smtp-sink {flag} {command}: sender got {reply}");
        Assert.StartsWith(expected, reply);
        Assert.Equal(0, sink.MessageCount);
        Assert.DoesNotContain(proxy.Logs.WithEvent(3100), l => l.Field("Outcome") == "relayed");

        sink.Restart();
        Assert.StartsWith("250", await SendAsync(proxy, "after"));
        Assert.Equal(1, sink.MessageCount);
    }

    [Fact]
    public async Task SinkSilentPastCommandTimeout_Gets451_4_4_2()
    {
        using var sink = SmtpSinkUpstream.Start("-W", "mail:10");
        await using var proxy = await StartProxyAsync(sink.Port, "00:00:01");

        Assert.StartsWith("451 4.4.2", await SendAsync(proxy, "stalled"));
        Assert.Equal(0, sink.MessageCount);
    }
}
