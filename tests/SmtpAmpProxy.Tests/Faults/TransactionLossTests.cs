using System.Globalization;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Faults;

/// <summary>
/// A transaction whose upstream went away, or never came free, ends in 4xx for the sender (retry
/// later), never in a 5xx it would bounce on, and never in a 250 for mail that was not taken.
/// </summary>
public sealed class TransactionLossTests
{
    private static Task<ProxyTestHost> StartProxyAsync(int upstreamPort, int maxConnections = 4, string connectTimeout = "00:00:30") =>
        ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Upstream:Mode"] = "Smtp",
            ["Proxy:Upstream:Host"] = "127.0.0.1",
            ["Proxy:Upstream:Port"] = upstreamPort.ToString(CultureInfo.InvariantCulture),
            ["Proxy:Upstream:Tls"] = "None",
            ["Proxy:Upstream:Username"] = "",
            ["Proxy:Upstream:MaxConnections"] = maxConnections.ToString(CultureInfo.InvariantCulture),
            ["Proxy:Upstream:MaxConnectionsPerClient"] = maxConnections.ToString(CultureInfo.InvariantCulture),
            ["Proxy:Upstream:ConnectTimeout"] = connectTimeout,
        });

    [Fact]
    public async Task UpstreamLostAfterFirstRecipient_RestOfTransactionGets451NotA503()
    {
        await using var upstream = ScriptedUpstream.Start();
        await using var proxy = await StartProxyAsync(upstream.Port);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@example.com>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<one@example.net>"));
            Assert.StartsWith("451 4.4.2", await client.CommandAsync("RCPT TO:<drop@example.net>"));
            Assert.StartsWith("451 4.4.2", await client.CommandAsync("RCPT TO:<three@example.net>"));
            // DATA is refused before the sender spends the message on a transaction that cannot finish.
            Assert.StartsWith("451 4.4.2", await client.CommandAsync("DATA"));
            Assert.StartsWith("250", await client.CommandAsync("RSET"));

            // A new transaction starts afresh on a new upstream connection.
            Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["one@example.net"], TestMessages.DotStuff(TestMessages.PlainText("next"))));
        }

        var accepted = Assert.Single(upstream.Accepted);
        Assert.Contains("next@example.com", accepted.Data);
    }

    [Fact]
    public async Task EveryUpstreamConnectionHeld_NextSenderGets451_4_4_5InsteadOfWaitingForever()
    {
        await using var upstream = ScriptedUpstream.Start();
        await using var proxy = await StartProxyAsync(upstream.Port, maxConnections: 1, connectTimeout: "00:00:01");

        var (holder, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        var (waiter, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (holder)
        await using (waiter)
        {
            Assert.StartsWith("250", await holder.CommandAsync("EHLO holder.test"));
            Assert.StartsWith("250", await holder.CommandAsync("MAIL FROM:<a@example.com>"));

            Assert.StartsWith("250", await waiter.CommandAsync("EHLO waiter.test"));
            // The pool is busy, the upstream is fine: not 4.4.1 (unreachable), and no upstream error counted.
            Assert.StartsWith("451 4.4.5", await waiter.CommandAsync("MAIL FROM:<b@example.com>"));

            // Once the holder lets go, the waiter is served.
            Assert.StartsWith("250", await holder.CommandAsync("RSET"));
            Assert.StartsWith("250", await waiter.CommandAsync("MAIL FROM:<b@example.com>"));
        }
    }

    [Fact]
    public async Task UpstreamAnswersDataWith250_SenderGets451AndNothingIsClaimedDelivered()
    {
        await using var upstream = ScriptedUpstream.Start();
        upstream.Fault = UpstreamFault.Data250AtCommand;
        await using var proxy = await StartProxyAsync(upstream.Port);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            var reply = await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(TestMessages.PlainText("never-sent")));
            Assert.StartsWith("451 4.4.0", reply);
        }

        Assert.Empty(upstream.Accepted);
        Assert.Equal("protocol", Assert.Single(proxy.Logs.WithEvent(3100)).Field("Code"));
        Assert.DoesNotContain(proxy.Logs.WithEvent(3100), l => l.Field("Outcome") is "relayed" or "repaired");
    }
}
