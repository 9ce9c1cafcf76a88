using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Tests.Support;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Tests.Faults;

/// <summary>
/// The proxy holds MAIL and sends it with the first RCPT, and opens the upstream DATA when the sender says
/// DATA. What that must not change: no recipient is accepted that the upstream refused (a refused MAIL
/// refuses every RCPT), nothing reaches the upstream for a message the proxy refuses, and the pool recovers.
/// </summary>
public sealed class UpstreamRoundTripTests
{
    private static Task<ProxyTestHost> StartProxyAsync(int upstreamPort) =>
        ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstreamPort, ("Proxy:Upstream:MaxConnections", "4"), ("Proxy:Upstream:MaxConnectionsPerClient", "4")));

    private static SmtpConnectionPool Pool(ProxyTestHost proxy) =>
        ((SmtpUpstream)proxy.Services.GetRequiredService<IUpstream>()).Pool;

    [Theory]
    [InlineData(true, "refused", "550 5.7.1 Sender address rejected: not a verified sender")]
    [InlineData(false, "refused", "550 5.7.1 Sender address rejected: not a verified sender")]
    [InlineData(true, "later", "451 4.7.1 Sender address rejected: try again later")]
    public async Task UpstreamRefusesMail_EveryRcptGetsThatReply_DataGets554_NothingArrives(bool pipelining, string sender, string refusal)
    {
        await using var upstream = ScriptedUpstream.Start();
        upstream.OfferPipelining = pipelining;
        await using var proxy = await StartProxyAsync(upstream.Port);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.Equal("250 2.1.0 Ok", await client.CommandAsync($"MAIL FROM:<{sender}@example.com>"));
            Assert.Equal(refusal, await client.CommandAsync("RCPT TO:<one@example.net>"));

            // Nothing is open upstream after a refused MAIL: the connection is back in the pool already.
            Assert.Equal((1, 1), (Pool(proxy).TotalCount, Pool(proxy).IdleCount));
            Assert.Equal(refusal, await client.CommandAsync("RCPT TO:<two@example.net>"));
            Assert.StartsWith("554", await client.CommandAsync("DATA"));

            // The next transaction on the same session starts afresh and is delivered.
            Assert.StartsWith("250 2.0.0 Ok: queued as UP1",
                await client.SendMessageAsync("sender@example.com", ["one@example.net"], TestMessages.DotStuff(TestMessages.PlainText("next"))));
        }

        var delivered = Assert.Single(upstream.Accepted);
        Assert.Equal(["one@example.net"], delivered.Recipients);
        Assert.Equal(1, upstream.ConnectionsAccepted);

        // One MAIL for the refused sender, however many recipients the sender tried.
        Assert.Single(upstream.Lines, l => l.StartsWith($"MAIL FROM:<{sender}@", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MessageRefusedByAmpRules_UpstreamDataIsClosedUnfinished_NothingDelivered_NextMessageFlows()
    {
        await using var upstream = ScriptedUpstream.Start();
        upstream.OfferPipelining = true;
        await using var proxy = await StartProxyAsync(upstream.Port);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            var reply = await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.MisplacedAmp("refused")));
            Assert.StartsWith("554 5.6.0 amp-misplaced", reply);

            Assert.StartsWith("250 2.0.0 Ok: queued as UP1",
                await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText("after"))));
        }

        // The upstream was told DATA for the refused message, got none of its content, and lost that
        // connection: closing is the only way out of DATA that delivers nothing.
        var delivered = Assert.Single(upstream.Accepted);
        Assert.Contains("after@example.com", delivered.Data);
        Assert.DoesNotContain(upstream.ContentLines, l => l.Contains("refused@example.com", StringComparison.Ordinal));
        Assert.Equal(2, upstream.Lines.Count(l => l == "DATA"));
        Assert.Equal(2, upstream.ConnectionsAccepted);
        Assert.Equal(1, Pool(proxy).TotalCount);
    }

    [Fact]
    public async Task SenderTooLargeAfterDataStarted_UpstreamGetsNoContent_SenderGets552()
    {
        await using var upstream = ScriptedUpstream.Start();
        upstream.OfferPipelining = true;
        await using var proxy = await ProxyTestHost.StartAsync(
            ProxyTestHost.SmtpUpstreamSettings(upstream.Port, ("Proxy:Limits:MaxMessageBytes", "1000")));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            var body = TestMessages.PlainText("big", new string('x', 2000) + "\r\n");
            Assert.StartsWith("552 5.3.4", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(body)));
            Assert.StartsWith("250 2.0.0 Ok: queued as UP1",
                await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText("small"))));
        }

        Assert.Single(upstream.Accepted);
        Assert.DoesNotContain(upstream.ContentLines, l => l.Contains("big@example.com", StringComparison.Ordinal));
    }
}
