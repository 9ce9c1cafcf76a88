using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Tests.Support;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Tests.Faults;

/// <summary>
/// Upstream faults through the real proxy. Whatever the upstream does, the sender never hears 250 for
/// mail the upstream did not take; afterwards the proxy keeps serving and its pool is back to one idle
/// connection, with no connection left behind at the upstream.
/// </summary>
public sealed class UpstreamFaultTests
{
    private static Task<ProxyTestHost> StartProxyAsync(int upstreamPort, string timeout = "00:00:30") =>
        ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Upstream:Mode"] = "Smtp",
            ["Proxy:Upstream:Host"] = "127.0.0.1",
            ["Proxy:Upstream:Port"] = upstreamPort.ToString(CultureInfo.InvariantCulture),
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

    private static async Task<string> SendAsync(ProxyTestHost proxy, string id, params string[] to)
    {
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            return await client.SendMessageAsync("sender@example.com", to.Length == 0 ? ["rcpt@example.net"] : to,
                TestMessages.DotStuff(TestMessages.PlainText(id)));
        }
    }

    /// <summary>The next message goes through, and the pool settles at one idle connection (its sequential baseline).</summary>
    private static async Task AssertRecoversAsync(ProxyTestHost proxy, ScriptedUpstream upstream)
    {
        upstream.Fault = UpstreamFault.None;
        var accepted = upstream.Accepted.Count;
        Assert.StartsWith("250 2.0.0 Ok: queued as UP", await SendAsync(proxy, "after-fault"));
        Assert.Equal(accepted + 1, upstream.Accepted.Count);
        var pool = Pool(proxy);
        await Eventually.UntilAsync(() => pool.TotalCount == 1 && pool.IdleCount == 1 && upstream.OpenConnections == 1,
            () => $"pool back to one idle connection (total {pool.TotalCount}, idle {pool.IdleCount}, upstream holds {upstream.OpenConnections})");
    }


    [Fact]
    public async Task ConnectionRefused_Gets451_4_4_1_ThenServesOnceTheUpstreamListens()
    {
        await using var upstream = ScriptedUpstream.Reserve();
        await using var proxy = await StartProxyAsync(upstream.Port);

        Assert.StartsWith("451 4.4.1", await SendAsync(proxy, "refused"));
        Assert.Equal(0, Pool(proxy).TotalCount);

        upstream.Listen();
        await AssertRecoversAsync(proxy, upstream);
    }

    [Theory]
    [InlineData(UpstreamFault.Banner421, "451 4.4.1")]
    [InlineData(UpstreamFault.SilentBanner, "451 4.4.1")]
    [InlineData(UpstreamFault.SilentAtMail, "451 4.4.2")]
    [InlineData(UpstreamFault.Data452AtCommand, "452 4.3.1")]
    [InlineData(UpstreamFault.Data452AtEnd, "452 4.3.1")]
    [InlineData(UpstreamFault.DisconnectMidData, "451 4.4.2")]
    [InlineData(UpstreamFault.SilentAfterData, "451 4.4.2")]
    public async Task UpstreamFault_SenderGetsTheFailureNot250_AndProxyRecovers(UpstreamFault fault, string expected)
    {
        await using var upstream = ScriptedUpstream.Start();

        // Upstream timeouts of 2 s: the silent faults cost the test that much, the others nothing.
        await using var proxy = await StartProxyAsync(upstream.Port, "00:00:02");
        var connectionFault = fault is UpstreamFault.Banner421 or UpstreamFault.SilentBanner;
        if (!connectionFault)
        {
            // A pooled connection exists before the fault, so the fault hits a reused connection.
            Assert.StartsWith("250", await SendAsync(proxy, "before-fault"));
        }

        var accepted = upstream.Accepted.Count;
        upstream.Fault = fault;

        var reply = await SendAsync(proxy, "faulted");

        TestContext.Current.TestOutputHelper?.WriteLine($"{fault}: sender got {reply}");
        Assert.StartsWith(expected, reply);
        Assert.Equal(accepted, upstream.Accepted.Count);
        Assert.DoesNotContain(proxy.Logs.WithEvent(3100), l => l.Field("MessageId") == "<faulted@example.com>" && l.Field("Outcome") == "relayed");
        await AssertRecoversAsync(proxy, upstream);
        Assert.Equal(upstream.Accepted.Count, proxy.Logs.WithEvent(3100).Count(l => l.Field("Outcome") == "relayed"));
    }

    [Fact]
    public async Task PerRecipient550_IsMirroredAndTheOtherRecipientStillGetsTheMessage()
    {
        await using var upstream = ScriptedUpstream.Start();
        await using var proxy = await StartProxyAsync(upstream.Port);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.Equal("550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown", await client.CommandAsync("RCPT TO:<nobody@example.net>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
            Assert.StartsWith("354", await client.CommandAsync("DATA"));
            await client.SendAsync(TestMessages.DotStuff(TestMessages.PlainText("partial")));
            Assert.StartsWith("250 2.0.0 Ok: queued as UP1", await client.CommandAsync("\r\n."));
        }

        Assert.Equal(["rcpt@example.net"], Assert.Single(upstream.Accepted).Recipients);
        await AssertRecoversAsync(proxy, upstream);
    }

    [Fact]
    public async Task AllRecipientsRefusedUpstream_DataGets554AndNothingArrives()
    {
        await using var upstream = ScriptedUpstream.Start();
        await using var proxy = await StartProxyAsync(upstream.Port);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("550 5.1.1", await client.CommandAsync("RCPT TO:<nobody@example.net>"));
            Assert.StartsWith("554", await client.CommandAsync("DATA"));
        }

        Assert.Empty(upstream.Accepted);
        await AssertRecoversAsync(proxy, upstream);
    }
}
