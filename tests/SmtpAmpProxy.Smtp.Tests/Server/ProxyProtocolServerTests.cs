using System.Buffers.Binary;
using System.Net;
using SmtpAmpProxy.Smtp.Access;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

public sealed class ProxyProtocolServerTests
{
    private const string V1Header = "PROXY TCP4 192.0.2.10 127.0.0.1 40001 25\r\n";

    [Fact]
    public async Task ProxyListener_V1Header_SessionSeesProxiedClient()
    {
        await using var host = await StartAsync();
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);

        await client.SendAsync(V1Header);

        Assert.StartsWith("220 ", await client.ReadReplyAsync());
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        var session = Assert.Single(host.Handlers.Sessions);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 40001), session.RemoteEndPoint);
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1074 && e.Message.Contains("client 192.0.2.10:40001", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProxyListener_V2Header_SessionSeesProxiedIpv6Client()
    {
        await using var host = await StartAsync();
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);

        await client.SendAsync(V2(0x21, 0x21, [.. IPAddress.Parse("2001:db8::5").GetAddressBytes(), .. IPAddress.IPv6Loopback.GetAddressBytes(), 0x1F, 0x90, 0, 25]));

        Assert.StartsWith("220 ", await client.ReadReplyAsync());
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::5"), 8080), Assert.Single(host.Handlers.Sessions).RemoteEndPoint);
    }

    [Fact]
    public async Task ProxyListener_V2Local_KeepsSocketAddress()
    {
        await using var host = await StartAsync();
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);

        await client.SendAsync(V2(0x20, 0x00, []));

        Assert.StartsWith("220 ", await client.ReadReplyAsync());
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        Assert.Equal(client.LocalEndPoint, Assert.Single(host.Handlers.Sessions).RemoteEndPoint);
    }

    [Fact]
    public async Task ProxyListener_HeaderAndCommandsInOneWrite_CommandsAreNotLost()
    {
        await using var host = await StartAsync();
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);

        await client.SendAsync(V1Header + "EHLO client.test\r\n");

        Assert.StartsWith("220 ", await client.ReadReplyAsync());
        Assert.StartsWith("250", await client.ReadReplyAsync());
    }

    [Fact]
    public async Task ProxyListener_UntrustedPeer_ClosedWithoutGreeting()
    {
        await using var host = await StartAsync(o => o with { Access = o.Access with { ProxyProtocolSources = [IpNetwork.Parse("10.0.0.0/8")] } });
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);

        await client.SendAsync(V1Header);

        await Assert.ThrowsAsync<IOException>(client.ReadReplyAsync);
        Assert.Empty(host.Handlers.Sessions);
        await ServerTestHost.WaitUntilAsync(() => host.Logs.Entries.Any(e => e.EventId == 1070), "the refusal is logged");
    }

    [Fact]
    public async Task ProxyListener_SmtpBeforeHeader_ClosedAsMalformed()
    {
        await using var host = await StartAsync();
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);

        await client.SendAsync("EHLO client.test\r\n" + V1Header);

        await Assert.ThrowsAsync<IOException>(client.ReadReplyAsync);
        Assert.Empty(host.Handlers.Sessions);
        await ServerTestHost.WaitUntilAsync(
            () => host.Logs.Entries.Any(e => e.EventId == 1072 && e.Message.Contains("BadSignature", StringComparison.Ordinal)), "the malformed header is logged");
    }

    [Fact]
    public async Task ProxyListener_TooLongV1Line_ClosedAsMalformed()
    {
        await using var host = await StartAsync();
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);

        await client.SendAsync("PROXY UNKNOWN " + new string('x', 200) + "\r\n");

        await Assert.ThrowsAsync<IOException>(client.ReadReplyAsync);
        await ServerTestHost.WaitUntilAsync(
            () => host.Logs.Entries.Any(e => e.EventId == 1072 && e.Message.Contains("LineTooLong", StringComparison.Ordinal)), "the long line is logged");
    }

    [Fact]
    public async Task ProxyListener_NoHeaderWithinTimeout_ClosedWithoutGreeting()
    {
        var time = new ServerTestTime();
        await using var host = await StartAsync(o => o with { ProxyProtocolTimeout = TimeSpan.FromSeconds(5) }, time);
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);
        await client.SendAsync("PROXY TCP4 192.0.2.10");
        await ServerTestHost.WaitUntilAsync(() => time.ArmedTimers > 0, "the header deadline is armed");

        time.Advance(TimeSpan.FromSeconds(6));

        await Assert.ThrowsAsync<IOException>(client.ReadReplyAsync);
        Assert.Empty(host.Handlers.Sessions);
        await ServerTestHost.WaitUntilAsync(() => host.Logs.Entries.Any(e => e.EventId == 1071), "the timeout is logged");
    }

    [Fact]
    public async Task ProxyListener_ProxiedClientInAllowedNetwork_RelayAccepted()
    {
        await using var host = await StartAsync(o => o with { Access = o.Access with { AllowedNetworks = [IpNetwork.Parse("192.0.2.0/24")] } });
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);
        await client.SendAsync(V1Header);
        Assert.StartsWith("220 ", await client.ReadReplyAsync());
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@example.com>"));

        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<b@example.net>"));
    }

    [Fact]
    public async Task ProxyListener_ProxiedClientOutsideAllowedNetwork_RelayDeniedThoughBalancerIsAllowed()
    {
        await using var host = await StartAsync(o => o with { Access = o.Access with { AllowedNetworks = [IpNetwork.Parse("127.0.0.0/8")] } });
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);
        await client.SendAsync("PROXY TCP4 203.0.113.5 127.0.0.1 40001 25\r\n");
        Assert.StartsWith("220 ", await client.ReadReplyAsync());
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@example.com>"));

        Assert.StartsWith("554 5.7.1", await client.CommandAsync("RCPT TO:<b@example.net>"));
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1034 && e.Message.Contains("203.0.113.5", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n")]
    public async Task ProxyListener_HeaderWithoutSource_GetsNoRelayByNetwork(string header)
    {
        // The balancer's own address is in AllowedNetworks, but the client behind it is unknown.
        await using var host = await StartAsync(o => o with { Access = o.Access with { AllowedNetworks = [IpNetwork.Parse("127.0.0.0/8")] } });
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);
        await client.SendAsync(header);
        Assert.StartsWith("220 ", await client.ReadReplyAsync());
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@example.com>"));

        Assert.StartsWith("554 5.7.1", await client.CommandAsync("RCPT TO:<b@example.net>"));
    }

    [Fact]
    public async Task ProxyListener_PerIpLimit_CountsProxiedClientsNotTheBalancer()
    {
        await using var host = await StartAsync(o => o with { MaxConnectionsPerIp = 1 });
        await using var first = await ServerTestClient.ConnectAsync(host.EndPoint);
        await first.SendAsync("PROXY TCP4 192.0.2.1 127.0.0.1 1000 25\r\n");
        Assert.StartsWith("220 ", await first.ReadReplyAsync());
        await using var second = await ServerTestClient.ConnectAsync(host.EndPoint);
        await second.SendAsync("PROXY TCP4 192.0.2.2 127.0.0.1 1000 25\r\n");
        Assert.StartsWith("220 ", await second.ReadReplyAsync());
        await using var third = await ServerTestClient.ConnectAsync(host.EndPoint);

        await third.SendAsync("PROXY TCP4 192.0.2.1 127.0.0.1 1001 25\r\n");

        Assert.StartsWith("421 ", await third.ReadReplyAsync());
    }

    [Fact]
    public async Task ProxyListener_ImplicitTls_HeaderComesBeforeHandshake()
    {
        await using var host = await StartAsync(o => o with
        {
            Certificate = ServerTestCertificate.Instance,
            Listeners = [new SmtpListenerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Tls = TlsMode.Implicit, ProxyProtocol = true }],
        });
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);
        await client.SendAsync(V1Header);

        await client.StartTlsAsync();

        Assert.StartsWith("220 ", await client.ReadReplyAsync());
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        var session = Assert.Single(host.Handlers.Sessions);
        Assert.True(session.IsTls);
        Assert.Equal(IPAddress.Parse("192.0.2.10"), session.RemoteEndPoint.Address);
    }

    [Fact]
    public async Task PlainListener_ProxyHeader_IsJustABadCommand()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();

        Assert.StartsWith("5", await client.CommandAsync(V1Header.TrimEnd()));
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        Assert.Equal(IPAddress.Loopback, Assert.Single(host.Handlers.Sessions).RemoteEndPoint.Address);
    }

    [Fact]
    public async Task Stop_PendingHeaderRead_ClosesConnection()
    {
        var time = new ServerTestTime();
        var host = await StartAsync(time: time);
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);
        await client.SendAsync("PROXY ");
        await ServerTestHost.WaitUntilAsync(() => time.ArmedTimers > 0, "the header read is pending");

        await host.DisposeAsync();

        await Assert.ThrowsAsync<IOException>(client.ReadReplyAsync);
        Assert.Empty(host.Handlers.Sessions);
    }

    private static Task<ServerTestHost> StartAsync(Func<SmtpServerOptions, SmtpServerOptions>? configure = null, TimeProvider? time = null) =>
        ServerTestHost.StartAsync(
            o =>
            {
                var proxied = o with
                {
                    Listeners = [new SmtpListenerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Tls = TlsMode.StartTls, ProxyProtocol = true }],
                    Access = new RelayAccessPolicy
                    {
                        ProxyProtocolSources = [IpNetwork.Parse("127.0.0.0/8")],
                        AllowedNetworks = [IpNetwork.Parse("192.0.2.0/24")],
                    },
                };
                return configure?.Invoke(proxied) ?? proxied;
            },
            time);

    private static byte[] V2(byte versionCommand, byte family, byte[] payload)
    {
        byte[] signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
        var bytes = new byte[16 + payload.Length];
        signature.CopyTo(bytes, 0);
        bytes[12] = versionCommand;
        bytes[13] = family;
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(14), (ushort)payload.Length);
        payload.CopyTo(bytes, 16);
        return bytes;
    }
}
