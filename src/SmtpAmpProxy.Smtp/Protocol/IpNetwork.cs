using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SmtpAmpProxy.Smtp;

/// <summary>An address block in CIDR notation ("10.0.0.0/8", "::1/128"); a bare address is a single host.</summary>
public readonly record struct IpNetwork(IPAddress Prefix, int PrefixLength)
{
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
        var addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out var address)
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

        n = new IpNetwork(Mask(address, length), length);
        return true;
    }

    /// <summary>
    /// True when <paramref name="a"/> lies in this block. IPv4-mapped IPv6 addresses (what a dual-stack
    /// socket reports for an IPv4 peer) are compared as IPv4, so "127.0.0.0/8" also covers "::ffff:127.0.0.1".
    /// </summary>
    public bool Contains(IPAddress a)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (Prefix is null)
        {
            return false;
        }

        var prefix = Prefix.IsIPv4MappedToIPv6 ? Prefix.MapToIPv4() : Prefix;
        var prefixLength = Prefix.IsIPv4MappedToIPv6 ? Math.Max(0, PrefixLength - 96) : PrefixLength;
        var address = a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
        if (prefix.AddressFamily != address.AddressFamily)
        {
            return false;
        }

        Span<byte> left = stackalloc byte[16];
        Span<byte> right = stackalloc byte[16];
        prefix.TryWriteBytes(left, out var count);
        address.TryWriteBytes(right, out _);
        var bits = Math.Clamp(prefixLength, 0, count * 8);
        var whole = bits / 8;
        if (!left[..whole].SequenceEqual(right[..whole]))
        {
            return false;
        }

        var rest = bits % 8;
        if (rest == 0)
        {
            return true;
        }

        var mask = (byte)(0xFF << (8 - rest));
        return (left[whole] & mask) == (right[whole] & mask);
    }

    public override string ToString() => $"{Prefix}/{PrefixLength}";

    private static IPAddress Mask(IPAddress address, int length)
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
