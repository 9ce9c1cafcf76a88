using System.Net;
using System.Text;
using SmtpAmpProxy.Access;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Security;

/// <summary>Never an open relay: who may send through the appliance, and how password guessing is slowed.</summary>
public sealed class RelayAccessTests
{
    private static readonly IPAddress OtherHost = IPAddress.Parse("127.0.0.2");

    private static string Plain(string user, string password) =>
        "AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));

    private static Dictionary<string, string> OnlyLoopbackOne(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string>
        {
            ["Proxy:Access:AllowedNetworks:0"] = "127.0.0.1/32",
            ["Proxy:Access:AllowAuthWithoutTls"] = "true",
            ["Proxy:Access:Users:0:Name"] = "alice",
            ["Proxy:Access:Users:0:PasswordHash"] = PasswordHash.Create("s3cret"),
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    [Fact]
    public async Task ClientOutsideAllowedNetworks_WithoutAuth_Gets554RelayDeniedAtRcpt()
    {
        await using var proxy = await ProxyTestHost.StartAsync(OnlyLoopbackOne());
        var (client, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, OtherHost);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO outsider.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.Equal("554 5.7.1 <rcpt@example.net>: Relay access denied", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
            Assert.Equal("554 5.5.1 Error: no valid recipients", await client.CommandAsync("DATA"));
        }

        Assert.Empty(proxy.OutboxFiles());
        Assert.Contains(proxy.Logs.Entries, e => e.EventId == 1034 && e.Message.Contains("127.0.0.2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClientOutsideAllowedNetworks_AfterAuth_IsRelayed()
    {
        await using var proxy = await ProxyTestHost.StartAsync(OnlyLoopbackOne());
        var (client, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, OtherHost);
        await using (client)
        {
            Assert.Contains("AUTH PLAIN LOGIN", await client.CommandAsync("EHLO outsider.test"));
            Assert.Equal("235 2.7.0 Authentication successful", await client.CommandAsync(Plain("alice", "s3cret")));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
            Assert.StartsWith("354", await client.CommandAsync("DATA"));
            await client.SendAsync(TestMessages.DotStuff(TestMessages.PlainText("authenticated")));
            Assert.StartsWith("250", await client.CommandAsync("\r\n."));
        }

        Assert.Single(proxy.OutboxFiles());
    }

    [Fact]
    public async Task AllowedNetworkClient_IsRelayedWithoutAuth()
    {
        await using var proxy = await ProxyTestHost.StartAsync(OnlyLoopbackOne());
        var (client, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, IPAddress.Loopback);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO insider.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
        }
    }

    [Fact]
    public async Task SenderDomainNotAllowed_Gets553AtMailAndAllowedDomainPasses()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Access:AllowedSenderDomains:0"] = "example.com",
        });
        var (client, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("553 5.7.1 <spoof@evil.test>", await client.CommandAsync("MAIL FROM:<spoof@evil.test>"));
            Assert.StartsWith("503", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@EXAMPLE.com>"));
        }

        Assert.Contains(proxy.Logs.WithEvent(3100), l => l.Field("Code") == "sender-domain");
    }

    [Fact]
    public async Task AuthGuessing_ThroughTheProxy_IsDelayedThenLockedOutAcrossSessions_AndNeverLogsSecrets()
    {
        await using var proxy = await ProxyTestHost.StartAsync(OnlyLoopbackOne(
            ("Proxy:Limits:AuthFailuresBeforeDelay", "1"),
            ("Proxy:Limits:AuthFailureDelay", "00:00:00.050"),
            ("Proxy:Limits:MaxAuthFailures", "3")));

        var (guesser, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, OtherHost);
        await using (guesser)
        {
            Assert.StartsWith("250", await guesser.CommandAsync("EHLO guesser.test"));
            Assert.StartsWith("535 5.7.8", await guesser.CommandAsync(Plain("alice", "guess-one")));
            Assert.StartsWith("535 5.7.8", await guesser.CommandAsync(Plain("alice", "guess-two")));
            Assert.StartsWith("421 4.7.0", await guesser.CommandAsync(Plain("alice", "guess-three")));
            Assert.True(await guesser.WaitClosedAsync());
        }

        // The right password from the same address, in a new session: still locked out.
        var (again, _) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, OtherHost);
        await using (again)
        {
            Assert.StartsWith("250", await again.CommandAsync("EHLO guesser.test"));
            Assert.StartsWith("421 4.7.0", await again.CommandAsync(Plain("alice", "s3cret")));
        }

        var secrets = new[] { "guess-", "s3cret", Plain("alice", "guess-one")[11..], Plain("alice", "s3cret")[11..] };
        foreach (var entry in proxy.Logs.Entries)
        {
            var text = entry.Message + string.Concat(entry.Fields.Values.Select(v => v?.ToString()));
            Assert.DoesNotContain(secrets, s => text.Contains(s, StringComparison.Ordinal));
        }
    }
}
