using SmtpAmpProxy.Access;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Security;

/// <summary>Relay without AUTH is for loopback unless named; a broad range named without AUTH is warned about at start.</summary>
public sealed class SafeDefaultsTests
{
    private const int BroadRelayNetwork = 3006;

    [Fact]
    public async Task Start_DefaultNetworks_NoBroadRangeWarning()
    {
        await using var proxy = await ProxyTestHost.StartAsync();
        Assert.Empty(proxy.Logs.WithEvent(BroadRelayNetwork));
    }

    [Fact]
    public async Task Start_PrivateRangesWithoutAuth_WarnsNamingEachBroadRange()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Access:AllowedNetworks:0"] = "127.0.0.0/8",
            ["Proxy:Access:AllowedNetworks:1"] = "10.0.0.0/8",
            ["Proxy:Access:AllowedNetworks:2"] = "192.168.0.0/16",
            ["Proxy:Access:AllowedNetworks:3"] = "192.0.2.0/24",
            ["Proxy:Access:AllowedNetworks:4"] = "2001:db8::/32",
        });

        var warned = proxy.Logs.WithEvent(BroadRelayNetwork).ToList();
        Assert.All(warned, e => Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, e.Level));
        Assert.Equal(["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"], warned.Select(e => e.Field("Network")!).ToArray());
    }

    [Fact]
    public async Task Start_BroadRangeButAuthRequired_NoWarning()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Access:AllowedNetworks:0"] = "0.0.0.0/0",
            ["Proxy:Access:RequireAuth"] = "true",
        });
        Assert.Empty(proxy.Logs.WithEvent(BroadRelayNetwork));
    }

    [Theory]
    [InlineData("0.0.0.0/0", true)]
    [InlineData("172.16.0.0/12", true)]
    [InlineData("10.1.2.0/23", true)]
    [InlineData("10.1.2.0/24", false)]
    [InlineData("10.1.2.7/32", false)]
    [InlineData("127.0.0.0/8", false)]
    [InlineData("::1/128", false)]
    [InlineData("fd00::/8", true)]
    [InlineData("2001:db8:1:2::/64", false)]
    public void RelayExposure_WiderThanASlash24OrSlash64OutsideLoopback_IsBroad(string network, bool broad)
    {
        Assert.Equal(broad, RelayExposure.BroadNetworks([network]).Count == 1);
    }
}
