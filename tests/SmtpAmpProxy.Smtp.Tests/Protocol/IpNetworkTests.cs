using System.Net;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Tests.Protocol;

public sealed class IpNetworkTests
{
    [Theory]
    [InlineData("127.0.0.0/8", "127.1.2.3", true)]
    [InlineData("127.0.0.0/8", "128.0.0.1", false)]
    [InlineData("127.0.0.1/32", "127.0.0.2", false)]
    [InlineData("172.16.0.0/12", "172.31.255.255", true)]
    [InlineData("172.16.0.0/12", "172.32.0.0", false)]
    [InlineData("0.0.0.0/0", "8.8.8.8", true)]
    [InlineData("127.0.0.0/8", "::ffff:127.0.0.1", true)]
    [InlineData("::1/128", "::1", true)]
    [InlineData("::1/128", "127.0.0.1", false)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/33", "2001:db8:8000::1", false)]
    [InlineData("10.1.2.3", "10.1.2.3", true)]
    [InlineData("10.1.2.3", "10.1.2.4", false)]
    [InlineData("::ffff:10.0.0.0/104", "10.200.0.1", true)]
    [InlineData("::ffff:10.0.0.0/104", "11.0.0.1", false)]
    [InlineData("::ffff:127.0.0.1/128", "127.0.0.1", true)]
    public void Contains_Address_MatchesPrefix(string cidr, string address, bool expected) =>
        Assert.Equal(expected, IpNetwork.Parse(cidr).Contains(IPAddress.Parse(address)));

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0.0/33")]
    [InlineData("::/129")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10.0.0.0/+8")]
    [InlineData("not an ip/8")]
    [InlineData("10.0.0.0/8/8")]
    [InlineData("fe80::1%2/64")]
    [InlineData("fe80::1%2")]
    public void TryParse_Invalid_ReturnsFalse(string text) => Assert.False(IpNetwork.TryParse(text, out _));

    [Fact]
    public void Parse_HostBitsSet_AreMasked() => Assert.Equal("10.0.0.0/8", IpNetwork.Parse("10.9.8.7/8").ToString());

    [Fact]
    public void Parse_Ipv6HostBitsSet_AreMasked() => Assert.Equal("2001:db8::/32", IpNetwork.Parse("2001:db8:1:2::5/32").ToString());

    [Fact]
    public void Contains_DefaultValue_MatchesNothing() => Assert.False(default(IpNetwork).Contains(IPAddress.Loopback));

    [Fact]
    public void Parse_Invalid_ThrowsFormatExceptionNamingInput() =>
        Assert.Contains("bogus", Assert.Throws<FormatException>(() => IpNetwork.Parse("bogus")).Message);
}
