using System.Text;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.ProxyProtocol;

/// <summary>The appliance behind a load balancer that sends PROXY headers: the real client decides and is recorded.</summary>
public sealed class ProxyProtocolRelayTests
{
    private const int MessageOutcome = 3100;

    [Fact]
    public async Task ProxiedClientInAllowedNetwork_SocketAddressNotAllowed_MessageRelayedWithRealAddress()
    {
        await using var proxy = await StartAsync(allowed: "192.0.2.0/24");
        var (client, greeting) = await RawSmtpClient.ConnectAsync(proxy.EndPoint, "PROXY TCP4 192.0.2.10 10.0.0.1 40001 25\r\n");
        await using (client)
        {
            Assert.StartsWith("220", greeting);
            Assert.StartsWith("250", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText("proxied"))));
        }

        var text = await File.ReadAllTextAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        Assert.StartsWith("Received: from client.test ([192.0.2.10])", text);
        var line = Assert.Single(proxy.Logs.WithEvent(MessageOutcome));
        Assert.Equal("192.0.2.10", line.Field("Client"));
    }

    [Fact]
    public async Task ProxiedClientOutsideAllowedNetwork_SocketAddressAllowed_RelayDenied()
    {
        await using var proxy = await StartAsync(allowed: "127.0.0.0/8");
        var (client, greeting) = await RawSmtpClient.ConnectAsync(proxy.EndPoint, "PROXY TCP4 203.0.113.5 10.0.0.1 40001 25\r\n");
        await using (client)
        {
            Assert.StartsWith("220", greeting);
            var reply = await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.PlainText("denied")));

            Assert.StartsWith("554 5.7.1", reply);
        }

        Assert.Empty(proxy.OutboxFiles());
        Assert.Contains(proxy.Logs.WithEvent(1034), e => e.Message.Contains("203.0.113.5", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProxyListener_ConnectionWithoutHeader_ClosedWithoutGreeting()
    {
        await using var proxy = await StartAsync(allowed: "127.0.0.0/8");

        await Assert.ThrowsAsync<IOException>(() => RawSmtpClient.ConnectAsync(proxy.EndPoint, "EHLO client.test\r\n"));

        Assert.Empty(proxy.OutboxFiles());
    }

    [Fact]
    public async Task Swaks_ProxyV1_RelayedWithProxiedAddress()
    {
        await SwaksAsync("1", "TCP4", "198.51.100.23");
    }

    [Fact]
    public async Task Swaks_ProxyV2_RelayedWithProxiedAddress()
    {
        await SwaksAsync("2", "AF_INET", "198.51.100.24");
    }

    [Fact]
    public async Task Swaks_ProxyV2Ipv6_RelayedWithProxiedAddress()
    {
        await SwaksAsync("2", "AF_INET6", "2001:db8::24", allowed: "2001:db8::/32", dest: "2001:db8::1");
    }

    [Fact]
    public void Validate_ProxyListenerWithoutTrustedNetworks_NamesTheKey()
    {
        var options = new ProxyOptions
        {
            Listen = [new ListenOptions { Endpoint = "127.0.0.1:2525", ProxyProtocol = true }],
            Upstream = new UpstreamOptions { Mode = UpstreamMode.Directory },
        };

        var error = Assert.Single(ProxyOptionsValidator.Validate(options, Path.GetTempPath()));

        Assert.StartsWith("Proxy:ProxyProtocol:TrustedNetworks:", error);
        Assert.Contains("Proxy:Listen:0:ProxyProtocol", error);
    }

    [Fact]
    public void Validate_BadTrustedNetworkAndTimeout_NameTheKeys()
    {
        var options = new ProxyOptions
        {
            Upstream = new UpstreamOptions { Mode = UpstreamMode.Directory },
            ProxyProtocol = new ProxyProtocolOptions { TrustedNetworks = ["10.0.0.0/8", "balancer"], Timeout = TimeSpan.Zero },
        };

        var errors = ProxyOptionsValidator.Validate(options, Path.GetTempPath());

        Assert.Contains(errors, e => e.StartsWith("Proxy:ProxyProtocol:TrustedNetworks:1:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Proxy:ProxyProtocol:Timeout:", StringComparison.Ordinal));
        Assert.Equal(2, errors.Count);
    }

    private static async Task SwaksAsync(string version, string family, string source, string allowed = "198.51.100.0/24", string dest = "10.0.0.1")
    {
        var swaks = Peers.RequireTool("swaks", "swaks");
        var help = Peers.Run(swaks, ["--help"], TimeSpan.FromSeconds(30));
        if (!help.StdOut.Contains("--proxy-version", StringComparison.Ordinal))
        {
            Assert.Skip("this swaks has no --proxy-version (PROXY support came in 20201014)");
        }

        await using var proxy = await StartAsync(allowed);
        using var directory = new TempDirectory();
        var path = directory.File("message.eml");
        await File.WriteAllBytesAsync(path, TestMessages.PlainText("swaks-proxy-v" + version), TestContext.Current.CancellationToken);

        var result = Peers.Run(swaks,
        [
            "--server", $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}",
            "--proxy-version", version, "--proxy-family", family,
            "--proxy-source", source, "--proxy-source-port", "51000", "--proxy-dest", dest, "--proxy-dest-port", "25",
            "--from", "sender@example.com", "--to", "rcpt@example.net", "--data", path, "--helo", "swaks.test",
        ], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        var text = await File.ReadAllTextAsync(Assert.Single(proxy.OutboxFiles()), Encoding.UTF8, TestContext.Current.CancellationToken);
        var literal = source.Contains(':', StringComparison.Ordinal) ? "IPv6:" + source : source;
        Assert.StartsWith($"Received: from swaks.test ([{literal}])", text);
        Assert.Equal(source, Assert.Single(proxy.Logs.WithEvent(MessageOutcome)).Field("Client"));
    }

    private static Task<ProxyTestHost> StartAsync(string allowed) => ProxyTestHost.StartAsync(new Dictionary<string, string>
    {
        ["Proxy:Listen:0:ProxyProtocol"] = "true",
        ["Proxy:ProxyProtocol:TrustedNetworks:0"] = "127.0.0.0/8",
        ["Proxy:Access:AllowedNetworks:0"] = allowed,
    });
}
