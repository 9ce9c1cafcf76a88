using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SmtpAmpProxy.Tests.Faults;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Security;
using SmtpAmpProxy.Tests.Support;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Tests.Relay;

/// <summary>
/// The upstream connection is held only while the sender moves its transaction forward. An upstream that
/// drops connections idle for 8 s (virtual time, for the proxy and the upstream alike) meets a slow sender
/// and a dawdling one, and the mail is delivered once; a replay answered differently is never a 250.
/// </summary>
public sealed class UpstreamLeaseTests
{
    private static readonly TimeSpan UpstreamIdleLimit = TimeSpan.FromSeconds(8);

    private static Task<ProxyTestHost> StartProxyAsync(ScriptedUpstream upstream, TimeProvider time, params (string Key, string Value)[] extra) =>
        ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port, extra), services => services.AddSingleton(time));

    private static ScriptedUpstream StartIdleLimitedUpstream(FakeTimeProvider time)
    {
        var upstream = ScriptedUpstream.Start();
        upstream.Time = time;
        upstream.IdleLimit = UpstreamIdleLimit;
        upstream.OfferPipelining = true;
        return upstream;
    }

    [Fact]
    public async Task SlowData_1600KBAt100KBps_UpstreamDropsIdleAfter8s_DeliveredOnce()
    {
        var time = new FakeTimeProvider();
        await using var upstream = StartIdleLimitedUpstream(time);

        // Virtual time runs ahead of what the proxy has read off the socket when the machine is busy, which the
        // slow-sender guard would take for a sender below its minimum rate; that guard is not what is tested here.
        await using var proxy = await StartProxyAsync(upstream, time, ("Proxy:Limits:MinDataRateBytesPerSecond", "0"));
        var line = new string('x', 98) + "\r\n";
        var body = string.Concat(Enumerable.Repeat(line, 16_000));
        var message = TestMessages.DotStuff(TestMessages.PlainText("slow", body));
        Assert.True(message.Length >= 1_600_000);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO slow.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
            Assert.StartsWith("354", await client.CommandAsync("DATA"));

            // 100 KB/s: 10 KB per 100 ms of virtual time, 16 s in all, twice the upstream's idle limit.
            for (var offset = 0; offset < message.Length; offset += 10_000)
            {
                await client.SendAsync(message[offset..Math.Min(message.Length, offset + 10_000)]);
                time.Advance(TimeSpan.FromMilliseconds(100));
            }

            await client.SendAsync("\r\n.\r\n"u8.ToArray());
            Assert.StartsWith("250 2.0.0 Ok: queued as UP1", await client.ReadReplyAsync());
        }

        var accepted = Assert.Single(upstream.Accepted);
        Assert.Contains("Message-ID: <slow@example.com>", accepted.Data);
        Assert.Equal(16_000, accepted.Data.Split(line).Length - 1);
    }

    [Fact]
    public async Task PauseOf12sBeforeData_UpstreamDropsIdleAfter8s_DeliveredOnce()
    {
        var time = new FakeTimeProvider();
        await using var upstream = StartIdleLimitedUpstream(time);
        await using var proxy = await StartProxyAsync(upstream, time);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO pause.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<one@example.net>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<two@example.net>"));
            time.Advance(TimeSpan.FromSeconds(12));
            Assert.StartsWith("354", await client.CommandAsync("DATA"));
            await client.SendAsync(TestMessages.DotStuff(TestMessages.PlainText("paused")));
            Assert.StartsWith("250 2.0.0 Ok: queued as UP1", await client.CommandAsync("\r\n."));
        }

        var accepted = Assert.Single(upstream.Accepted);
        Assert.Equal(["one@example.net", "two@example.net"], accepted.Recipients);
        // The connection was given back while the sender paused, and the envelope went out again.
        Assert.Equal(2, upstream.Lines.Count(l => l.StartsWith("MAIL FROM:<sender@example.com>", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task SenderIdleBetweenCommands_ConnectionGoesBackToThePool()
    {
        var time = new FakeTimeProvider();
        await using var upstream = StartIdleLimitedUpstream(time);
        await using var proxy = await StartProxyAsync(upstream, time);
        var pool = ((SmtpUpstream)proxy.Services.GetRequiredService<IUpstream>()).Pool;

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO idle.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<one@example.net>"));
            Assert.Equal(1, pool.RentedCount);

            time.Advance(TimeSpan.FromSeconds(6));
            await Eventually.UntilAsync(() => pool.RentedCount == 0 && pool.IdleCount == 1, () => $"rented {pool.RentedCount}, idle {pool.IdleCount}");
            Assert.Contains("RSET", upstream.Lines);

            // The sender goes on as if nothing happened: the envelope is replayed with the next recipient.
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<two@example.net>"));
            Assert.StartsWith("250 2.0.0 Ok: queued as UP1", await client.SendDataAsync(TestMessages.DotStuff(TestMessages.PlainText("idle"))));
        }

        Assert.Equal(["one@example.net", "two@example.net"], Assert.Single(upstream.Accepted).Recipients);
    }

    [Fact]
    public async Task ReplayAnsweredDifferently_SenderGets451NeverA250()
    {
        var time = new FakeTimeProvider();
        await using var upstream = StartIdleLimitedUpstream(time);
        await using var proxy = await StartProxyAsync(upstream, time);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO fickle.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<fickle@example.net>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<steady@example.net>"));

            // Past both idle bounds: the first connection is gone, and the next one refuses "fickle".
            time.Advance(TimeSpan.FromSeconds(12));
            Assert.StartsWith("354", await client.CommandAsync("DATA"));
            await client.SendAsync(TestMessages.DotStuff(TestMessages.PlainText("fickle")));
            Assert.StartsWith("451 4.4.0", await client.CommandAsync("\r\n."));
        }

        Assert.Empty(upstream.Accepted);
        Assert.Equal("lost", Assert.Single(proxy.Logs.WithEvent(3100)).Field("Code"));
    }

    [Fact]
    public async Task UpstreamSends354And250InOnePacket_SenderNeverHears250()
    {
        await using var upstream = ScriptedUpstream.Start();
        upstream.Fault = Faults.UpstreamFault.Data354And250InOnePacket;
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            var reply = await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText("early")));
            Assert.StartsWith("451 4.4.0", reply);
        }

        Assert.Empty(upstream.Accepted);
        Assert.Empty(upstream.ContentLines);
        Assert.Equal("protocol", Assert.Single(proxy.Logs.WithEvent(3100)).Field("Code"));
    }

    [Fact]
    public async Task UpstreamRefusesLogin_20Messages_AtMost5AttemptsAndNoCredentialInReadyzOrLogs()
    {
        const string ApiKey = "SG.secret-api-key.0123456789";
        var time = new FakeTimeProvider();
        await using var upstream = ScriptedUpstream.Start();
        upstream.RefuseAuth = true;
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port,
            ("Proxy:Upstream:Username", "apikey"), ("Proxy:Upstream:Password", ApiKey), ("Proxy:Http:Endpoint", "127.0.0.1:0")),
            services => services.AddSingleton<TimeProvider>(time));

        var replies = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
            await using (client)
            {
                Assert.StartsWith("250", await client.CommandAsync("EHLO wrong-key.test"));
                replies.Add(await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            }

            time.Advance(TimeSpan.FromSeconds(10));
        }

        var ready = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");

        Assert.All(replies, r => Assert.StartsWith("451 4.7.0", r));
        Assert.InRange(upstream.AuthAttempts, 1, 5);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.Status);
        Assert.Contains("auth", ready.Body);
        Assert.Single(proxy.Logs.WithEvent(3104));
        string[] secrets =
        [
            ApiKey,
            Convert.ToBase64String(Encoding.UTF8.GetBytes(ApiKey)),
            Convert.ToBase64String(Encoding.UTF8.GetBytes("\0apikey\0" + ApiKey)),
        ];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, ready.Body, StringComparison.Ordinal);
            Assert.DoesNotContain(proxy.Logs.Entries, e => e.Message.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task StarvingSender_ManySessionsHoldingMail_OtherAddressRelaysAndReadyzStays200()
    {
        await using var upstream = ScriptedUpstream.Start();
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port,
            ("Proxy:Upstream:MaxConnections", "8"), ("Proxy:Http:Endpoint", "127.0.0.1:0")));
        var attacker = IPAddress.Parse("127.0.0.2");
        var held = new List<BoundSmtpClient>();
        var answers = new List<string>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                var (client, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, attacker);
                held.Add(client);
                Assert.StartsWith("250", await client.CommandAsync("EHLO starver.test"));
                answers.Add(await client.CommandAsync("MAIL FROM:<hog@example.com>"));
                Assert.StartsWith("250", await client.CommandAsync("NOOP"));
            }

            var (other, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, IPAddress.Parse("127.0.0.3"));
            await using (other)
            {
                Assert.StartsWith("250", await other.CommandAsync("EHLO fair.test"));
                Assert.StartsWith("250", await other.CommandAsync("MAIL FROM:<fair@example.com>"));
                Assert.StartsWith("250", await other.CommandAsync("RCPT TO:<rcpt@example.net>"));
                Assert.StartsWith("354", await other.CommandAsync("DATA"));
                await other.SendAsync(TestMessages.DotStuff(TestMessages.PlainText("fair")));
                Assert.StartsWith("250 2.0.0 Ok: queued as UP1", await other.CommandAsync("\r\n."));
            }

            var ready = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");
            Assert.Equal(HttpStatusCode.OK, ready.Status);
        }
        finally
        {
            foreach (var client in held)
            {
                await client.DisposeAsync();
            }
        }

        // Half the pool per address: four hold a connection, the rest are told at once to come back later.
        Assert.Equal(4, answers.Count(a => a.StartsWith("250", StringComparison.Ordinal)));
        Assert.All(answers.Where(a => !a.StartsWith("250", StringComparison.Ordinal)), a => Assert.StartsWith("451 4.7.1", a));
        Assert.Single(upstream.Accepted);
    }

}
