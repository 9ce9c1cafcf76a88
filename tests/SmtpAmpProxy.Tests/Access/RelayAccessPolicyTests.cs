using System.Text;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Access;

/// <summary>
/// One policy decides relay and AUTH together. Behind a trusted balancer that is itself inside
/// AllowedNetworks, with AcceptAnyAuth on, a client the balancer could not name (PROXY UNKNOWN) must
/// neither relay by network nor log in with made-up credentials: either would make an open relay.
/// </summary>
public sealed class RelayAccessPolicyTests
{
    private static readonly string AnyCredentials = Convert.ToBase64String(Encoding.ASCII.GetBytes("\0anyone\0anything"));

    [Fact]
    public async Task ProxyUnknown_BalancerInAllowedNetworksWithAcceptAnyAuth_AuthRefusedAndRelayDenied()
    {
        await using var proxy = await StartAsync();
        var (client, greeting) = await RawSmtpClient.ConnectAsync(proxy.EndPoint, "PROXY UNKNOWN\r\n");
        await using (client)
        {
            Assert.StartsWith("220", greeting);
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("535", await client.CommandAsync($"AUTH PLAIN {AnyCredentials}"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            Assert.StartsWith("554 5.7.1", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
        }

        Assert.Empty(proxy.OutboxFiles());
    }

    [Fact]
    public async Task ProxiedClientInAllowedNetworks_AcceptAnyAuth_LogsInWithAnyCredentialsAndRelays()
    {
        await using var proxy = await StartAsync();
        var (client, greeting) = await RawSmtpClient.ConnectAsync(proxy.EndPoint, "PROXY TCP4 127.0.0.9 127.0.0.1 40001 25\r\n");
        await using (client)
        {
            Assert.StartsWith("220", greeting);
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("235", await client.CommandAsync($"AUTH PLAIN {AnyCredentials}"));
            Assert.StartsWith("250", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText("named"))));
        }

        Assert.Single(proxy.OutboxFiles());
    }

    [Fact]
    public async Task ProxiedClientOutsideAllowedNetworks_AcceptAnyAuth_AuthRefused()
    {
        await using var proxy = await StartAsync();
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint, "PROXY TCP4 203.0.113.5 127.0.0.1 40001 25\r\n");
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
            Assert.StartsWith("535", await client.CommandAsync($"AUTH PLAIN {AnyCredentials}"));
        }
    }

    private static Task<ProxyTestHost> StartAsync() => ProxyTestHost.StartAsync(new Dictionary<string, string>
    {
        ["Proxy:Listen:0:ProxyProtocol"] = "true",
        ["Proxy:ProxyProtocol:TrustedNetworks:0"] = "127.0.0.0/8",
        ["Proxy:Access:AllowedNetworks:0"] = "127.0.0.0/8",
        ["Proxy:Access:AcceptAnyAuth"] = "true",
        ["Proxy:Access:AllowAuthWithoutTls"] = "true",
    });
}
