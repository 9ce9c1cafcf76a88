using System.Net;
using SmtpAmpProxy.Tests.Faults;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Relay;

/// <summary>
/// SMTPUTF8 is offered to senders only when the upstream's last session offered it; a sender using it
/// otherwise hears 553 5.6.7 at MAIL and nothing goes upstream.
/// </summary>
public sealed class SmtpUtf8OfferTests
{
    private static ScriptedUpstream StartUpstream(bool offersSmtpUtf8)
    {
        var upstream = ScriptedUpstream.Start();
        upstream.ExtraExtensions = offersSmtpUtf8 ? ["SMTPUTF8"] : [];
        return upstream;
    }

    /// <param name="reach">Let the proxy reach the upstream once before the test's sender comes.</param>
    private static async Task<ProxyTestHost> StartProxyAsync(ScriptedUpstream upstream, bool reach = true, params (string Key, string Value)[] extra)
    {
        var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port, [("Proxy:Http:Endpoint", "127.0.0.1:0"), .. extra]));
        if (reach)
        {
            await ReachUpstreamAsync(proxy);
        }

        return proxy;
    }

    /// <summary>Readiness opens a session of its own, as the balancer's probe does before any sender comes.</summary>
    private static async Task ReachUpstreamAsync(ProxyTestHost proxy) =>
        Assert.Equal(HttpStatusCode.OK, (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz")).Status);

    [Fact]
    public async Task Ehlo_UpstreamNotReachedYet_NotOffered_OfferedOnceASessionSawIt()
    {
        await using var upstream = StartUpstream(offersSmtpUtf8: true);
        await using var proxy = await StartProxyAsync(upstream, reach: false);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.DoesNotContain("SMTPUTF8", await client.CommandAsync("EHLO early.test"));
            await ReachUpstreamAsync(proxy);
            Assert.Contains("250-SMTPUTF8", await client.CommandAsync("EHLO early.test"));
        }
    }

    [Fact]
    public async Task Mail_SmtpUtf8_UpstreamOffersIt_PassedUpstreamAndRelayed()
    {
        await using var upstream = StartUpstream(offersSmtpUtf8: true);
        await using var proxy = await StartProxyAsync(upstream);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.Contains("250-SMTPUTF8", await client.CommandAsync("EHLO utf8.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<søren@example.com> SMTPUTF8"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<δοκιμή@example.net>"));
            Assert.StartsWith("250 2.0.0 Ok: queued as UP1", await client.SendDataAsync(TestMessages.DotStuff(TestMessages.PlainText("utf8"))));
        }

        Assert.Contains(Latin1("MAIL FROM:<søren@example.com> SMTPUTF8"), upstream.Lines);
        Assert.Equal([Latin1("δοκιμή@example.net")], Assert.Single(upstream.Accepted).Recipients);
    }

    [Theory]
    [InlineData("MAIL FROM:<sender@example.com> SMTPUTF8")]
    [InlineData("MAIL FROM:<søren@example.com> SMTPUTF8")]
    [InlineData("MAIL FROM:<søren@example.com>")]
    public async Task Mail_Utf8_UpstreamLacksSmtpUtf8_NotOffered553AtMailNothingUpstream(string mail)
    {
        await using var upstream = StartUpstream(offersSmtpUtf8: false);
        await using var proxy = await StartProxyAsync(upstream);
        var before = upstream.Lines.Count;

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.DoesNotContain("SMTPUTF8", await client.CommandAsync("EHLO ascii.test"));
            Assert.StartsWith("553 5.6.7", await client.CommandAsync(mail));
            Assert.StartsWith("503", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));

            // ASCII mail from the same session goes through as ever.
            Assert.StartsWith("250", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText("ascii"))));
        }

        Assert.DoesNotContain(upstream.Lines.Skip(before), l => l.Contains("SMTPUTF8", StringComparison.Ordinal));
        Assert.Single(upstream.Accepted);
    }

    [Fact]
    public async Task Mail_OfferedButTheUpstreamStoppedOfferingIt_451AtMail_NextEhloNoLongerOffersAndMailThen553()
    {
        await using var upstream = StartUpstream(offersSmtpUtf8: true);
        await using var proxy = await StartProxyAsync(upstream);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.Contains("250-SMTPUTF8", await client.CommandAsync("EHLO changed.test"));

            // Readiness' session is closed; MAIL opens a new one, on which the upstream no longer offers it.
            upstream.ExtraExtensions = [];
            Assert.Equal("451 4.3.0 Error: the upstream relay no longer offers SMTPUTF8, try again later",
                await client.CommandAsync("MAIL FROM:<søren@example.com> SMTPUTF8"));
            Assert.DoesNotContain("SMTPUTF8", await client.CommandAsync("EHLO changed.test"));
            Assert.StartsWith("553 5.6.7", await client.CommandAsync("MAIL FROM:<søren@example.com> SMTPUTF8"));
        }

        Assert.DoesNotContain(upstream.Lines, l => l.StartsWith("MAIL", StringComparison.Ordinal));
        var outcome = Assert.Single(proxy.Logs.WithEvent(3100));
        Assert.Equal(("deferred", "smtputf8"), (outcome.Field("Outcome"), outcome.Field("Code")));
    }

    [Fact]
    public async Task QueueMode_UpstreamStoppedOfferingBeforeDelivery_MessageBouncesWith5_6_7NeverSentWithoutIt()
    {
        await using var upstream = StartUpstream(offersSmtpUtf8: true);
        using var spool = new TempDirectory();
        await using var proxy = await StartProxyAsync(upstream, reach: true, ("Proxy:Relay:Mode", "Queue"), ("Proxy:Queue:Directory", spool.Path));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            // Queue mode offers SMTPUTF8 on the same terms as Mirror mode: what the upstream's last session said.
            Assert.Contains("250-SMTPUTF8", await client.CommandAsync("EHLO queue.test"));
            upstream.ExtraExtensions = [];
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<app@example.com> SMTPUTF8"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<δοκιμή@example.net>"));
            Assert.StartsWith("250 2.0.0 Ok: queued as", await client.SendDataAsync(TestMessages.DotStuff(TestMessages.PlainText("queued-utf8"))));
        }

        // The delivery session lacks SMTPUTF8: the sender gets a bounce, and the message itself never goes out.
        await Eventually.UntilAsync(() => upstream.Accepted.Count == 1, () => $"one bounce at the upstream, {upstream.Accepted.Count} there");
        var bounce = Assert.Single(upstream.Accepted);
        Assert.Equal(["app@example.com"], bounce.Recipients);
        Assert.Contains("5.6.7", bounce.Data);
        Assert.DoesNotContain(upstream.Lines, l => l.Contains("SMTPUTF8", StringComparison.Ordinal) && l.StartsWith("MAIL", StringComparison.Ordinal));
    }

    /// <summary>The scripted upstream reads bytes as Latin-1: how UTF-8 text it received shows in its lines.</summary>
    private static string Latin1(string text) => System.Text.Encoding.Latin1.GetString(System.Text.Encoding.UTF8.GetBytes(text));
}
