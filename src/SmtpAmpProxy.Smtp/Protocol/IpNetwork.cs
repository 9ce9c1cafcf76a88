using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SmtpAmpProxy.Smtp.Protocol;

/// <summary>
/// A <see cref="IPNetwork"/> as operators write one in configuration. The BCL type does the matching;
/// this wrapper adds only what it refuses or misses: a bare address is a single host, host bits after
/// the prefix are cleared rather than refused ("10.9.8.7/8" is 10.0.0.0/8, as iptables reads it), a
/// scope id ("fe80::1%eth0") is refused because it names an interface, not addresses, and IPv4-mapped
/// IPv6 addresses (what a dual-stack socket reports for an IPv4 peer) match their IPv4 blocks.
/// </summary>
public readonly record struct IpNetwork
{
    private readonly IPNetwork _network;

    // default(IPNetwork) reads as 0.0.0.0/0, every IPv4 address: an unset value must match nothing.
    private readonly bool _set;

    private IpNetwork(IPNetwork network)
    {
        _network = network;
        _set = true;
    }

    public IPAddress Prefix => _network.BaseAddress;

    public int PrefixLength => _network.PrefixLength;

    public static IpNetwork Parse(string cidr) =>
        TryParse(cidr, out var network)
            ? network
            : throw new FormatException($"'{cidr}' is not an IP network in CIDR notation (for example 10.0.0.0/8).");

    public static bool TryParse([NotNullWhen(true)] string? s, out IpNetwork n)
    {
        n = default;
        if (string.IsNullOrWhiteSpace(s))
        {
            return false;
        }

        var text = s.AsSpan().Trim();
        var slash = text.IndexOf('/');
        if (!IPAddress.TryParse(slash < 0 ? text : text[..slash], out var address)
            || (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0))
        {
            return false;
        }

        var maxLength = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var length = maxLength;
        if (slash >= 0)
        {
            var lengthText = text[(slash + 1)..];
            if (lengthText.Length is 0 or > 3
                || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out length)
                || length > maxLength)
            {
                return false;
            }
        }

        // "::ffff:10.0.0.0/104" is the IPv4 block 10.0.0.0/8 written the IPv6 way.
        if (address.IsIPv4MappedToIPv6 && length >= 96)
        {
            address = address.MapToIPv4();
            length -= 96;
        }

        n = new IpNetwork(new IPNetwork(ClearHostBits(address, length), length));
        return true;
    }

    public bool Contains(IPAddress a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return _set && _network.Contains(a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a);
    }

    public override string ToString() => _network.ToString();

    private static IPAddress ClearHostBits(IPAddress address, int length)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(length - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }

        return new IPAddress(bytes);
    }
}
