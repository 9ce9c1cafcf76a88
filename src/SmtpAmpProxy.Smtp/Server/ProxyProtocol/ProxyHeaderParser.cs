using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace SmtpAmpProxy.Smtp.Server.ProxyProtocol;

/// <summary>
/// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) a load balancer puts before the
/// client's first byte. <see cref="TryParse"/> returns false, consuming nothing, while the bytes so far are a
/// prefix of a valid header; anything that cannot become one raises <see cref="ProxyProtocolException"/> as soon
/// as it is seen, so a client talking SMTP straight away is refused on its first byte.
/// </summary>
internal static class ProxyHeaderParser
{
    /// <summary>The spec's bound for a v1 line, CRLF included ("PROXY TCP6" with two full IPv6 addresses).</summary>
    public const int MaxV1Bytes = 107;

    public const int V2FixedBytes = 16;

    /// <summary>
    /// Addresses and TLVs after the fixed v2 part. The spec allows 64 KB; balancers send the 216-byte UNIX block at
    /// most plus a few small TLVs (AWS, Azure, GCP ids, SSL facts). 4 KB bounds what each pending connection holds.
    /// </summary>
    public const int MaxV2PayloadBytes = 4096;

    public const int MaxHeaderBytes = V2FixedBytes + MaxV2PayloadBytes;

    private const int V1SignatureLength = 6;
    private const int V2SignatureLength = 12;
    private const int Inet4Block = 12;
    private const int Inet6Block = 36;
    private const int UnixBlock = 216;

    private static ReadOnlySpan<byte> V1Signature => "PROXY "u8;

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static bool TryParse(ref SequenceReader<byte> reader, out ProxyHeader header)
    {
        header = default;
        if (!reader.TryPeek(out var first))
        {
            return false;
        }

        return first switch
        {
            (byte)'P' => TryParseV1(ref reader, out header),
            0x0D => TryParseV2(ref reader, out header),
            _ => throw new ProxyProtocolException(ProxyProtocolError.BadSignature, "the connection did not start with a PROXY header"),
        };
    }

    private static bool TryParseV1(ref SequenceReader<byte> reader, out ProxyHeader header)
    {
        header = default;
        Span<byte> line = stackalloc byte[MaxV1Bytes];
        var available = (int)Math.Min(reader.Remaining, MaxV1Bytes);
        line = line[..available];
        reader.TryCopyTo(line);
        var signature = Math.Min(available, V1SignatureLength);
        if (!line[..signature].SequenceEqual(V1Signature[..signature]))
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadSignature, "the connection did not start with a PROXY header");
        }

        var lf = line.IndexOf((byte)'\n');
        if (lf < 0)
        {
            return available < MaxV1Bytes
                ? false
                : throw new ProxyProtocolException(ProxyProtocolError.LineTooLong, $"v1 line longer than {MaxV1Bytes} bytes");
        }

        if (lf == 0 || line[lf - 1] != (byte)'\r')
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadLine, "v1 line does not end with CRLF");
        }

        header = ParseV1Fields(line[V1SignatureLength..(lf - 1)]);
        reader.Advance(lf + 1);
        return true;
    }

    private static ProxyHeader ParseV1Fields(ReadOnlySpan<byte> fields)
    {
        // "UNKNOWN" may be followed by anything up to the CRLF, which the receiver ignores (spec section 2.1).
        if (fields.StartsWith("UNKNOWN"u8) && (fields.Length == 7 || fields[7] == (byte)' '))
        {
            return new ProxyHeader(1, ProxyCommand.Proxy, null, null);
        }

        // Exactly one space between fields (spec section 2.1): an empty field is malformed, not skipped.
        Span<Range> parts = stackalloc Range[5];
        var count = 0;
        foreach (var part in fields.Split((byte)' '))
        {
            if (count == parts.Length || part.Start.Equals(part.End))
            {
                throw new ProxyProtocolException(ProxyProtocolError.BadLine, "v1 line does not have 5 fields");
            }

            parts[count++] = part;
        }

        if (count != 5)
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadLine, "v1 line does not have 5 fields");
        }

        var family = fields[parts[0]] switch
        {
            var f when f.SequenceEqual("TCP4"u8) => AddressFamily.InterNetwork,
            var f when f.SequenceEqual("TCP6"u8) => AddressFamily.InterNetworkV6,
            _ => throw new ProxyProtocolException(ProxyProtocolError.BadLine, "v1 protocol is not TCP4, TCP6 or UNKNOWN"),
        };
        var source = ParseV1Address(fields[parts[1]], family);
        var destination = ParseV1Address(fields[parts[2]], family);
        var sourcePort = ParseV1Port(fields[parts[3]]);
        var destinationPort = ParseV1Port(fields[parts[4]]);
        return new ProxyHeader(1, ProxyCommand.Proxy, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
    }

    private static IPAddress ParseV1Address(ReadOnlySpan<byte> text, AddressFamily family)
    {
        if (family == AddressFamily.InterNetwork)
        {
            return ParseDottedQuad(text) ?? throw new ProxyProtocolException(ProxyProtocolError.BadAddress, "v1 address is not a dotted IPv4 address");
        }

        // Hex, colons and dots only: no zone ids, brackets or anything IPAddress would also accept.
        foreach (var b in text)
        {
            if (!(char.IsAsciiHexDigit((char)b) || b is (byte)':' or (byte)'.'))
            {
                throw new ProxyProtocolException(ProxyProtocolError.BadAddress, "v1 address is not an IPv6 address");
            }
        }

        Span<char> chars = stackalloc char[text.Length];
        for (var i = 0; i < text.Length; i++)
        {
            chars[i] = (char)text[i];
        }

        return IPAddress.TryParse(chars, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6
            ? address
            : throw new ProxyProtocolException(ProxyProtocolError.BadAddress, "v1 address is not an IPv6 address");
    }

    /// <summary>
    /// Strictly four decimal octets: IPAddress.Parse would also take "10.1", hex and octal forms (inet_aton), which
    /// the spec does not allow and which could make one client look like another.
    /// </summary>
    private static IPAddress? ParseDottedQuad(ReadOnlySpan<byte> text)
    {
        Span<byte> octets = stackalloc byte[4];
        var index = 0;
        var value = 0;
        var digits = 0;
        foreach (var b in text)
        {
            if (b == (byte)'.')
            {
                if (digits == 0 || index == 3)
                {
                    return null;
                }

                octets[index++] = (byte)value;
                value = digits = 0;
                continue;
            }

            if (!char.IsAsciiDigit((char)b) || (digits == 1 && value == 0) || ++digits > 3)
            {
                return null;
            }

            value = (value * 10) + (b - '0');
            if (value > 255)
            {
                return null;
            }
        }

        if (digits == 0 || index != 3)
        {
            return null;
        }

        octets[3] = (byte)value;
        return new IPAddress(octets);
    }

    private static int ParseV1Port(ReadOnlySpan<byte> text)
    {
        if (text.Length is 0 or > 5)
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadPort, "v1 port is not a number from 0 to 65535");
        }

        var value = 0;
        foreach (var b in text)
        {
            if (!char.IsAsciiDigit((char)b))
            {
                throw new ProxyProtocolException(ProxyProtocolError.BadPort, "v1 port is not a number from 0 to 65535");
            }

            value = (value * 10) + (b - '0');
        }

        return value <= IPEndPoint.MaxPort
            ? value
            : throw new ProxyProtocolException(ProxyProtocolError.BadPort, "v1 port is not a number from 0 to 65535");
    }

    private static bool TryParseV2(ref SequenceReader<byte> reader, out ProxyHeader header)
    {
        header = default;
        Span<byte> fixedPart = stackalloc byte[V2FixedBytes];
        var available = (int)Math.Min(reader.Remaining, V2FixedBytes);
        reader.TryCopyTo(fixedPart[..available]);
        var signature = Math.Min(available, V2SignatureLength);
        if (!fixedPart[..signature].SequenceEqual(V2Signature[..signature]))
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadSignature, "the connection did not start with a PROXY header");
        }

        if (available > V2SignatureLength && fixedPart[12] >> 4 != 2)
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadVersion, $"v2 version nibble is {fixedPart[12] >> 4}, not 2");
        }

        if (available < V2FixedBytes)
        {
            return false;
        }

        var command = (fixedPart[12] & 0x0F) switch
        {
            0 => ProxyCommand.Local,
            1 => ProxyCommand.Proxy,
            var c => throw new ProxyProtocolException(ProxyProtocolError.BadCommand, $"v2 command {c} is neither LOCAL nor PROXY"),
        };
        var family = fixedPart[13] >> 4;
        var transport = fixedPart[13] & 0x0F;
        if (family > 3 || transport > 2)
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadFamily, $"v2 family byte 0x{fixedPart[13]:x2} is not defined");
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
        if (length > MaxV2PayloadBytes)
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadLength, $"v2 length {length} is over the limit of {MaxV2PayloadBytes}");
        }

        var block = family switch
        {
            1 => Inet4Block,
            2 => Inet6Block,
            3 => UnixBlock,
            _ => 0,
        };
        if (command == ProxyCommand.Proxy && length < block)
        {
            throw new ProxyProtocolException(ProxyProtocolError.BadLength, $"v2 length {length} is too short for its {block}-byte address block");
        }

        if (reader.Remaining < V2FixedBytes + length)
        {
            return false;
        }

        reader.Advance(V2FixedBytes);
        var payload = reader.UnreadSequence.Slice(0, length);
        reader.Advance(length);

        // LOCAL: the balancer's own connection, whatever the block says (spec section 2.2).
        if (command == ProxyCommand.Local || family is 0 or 3)
        {
            header = new ProxyHeader(2, command, null, null);
            return true;
        }

        Span<byte> addresses = stackalloc byte[Inet6Block];
        addresses = addresses[..block];
        payload.Slice(0, block).CopyTo(addresses);
        CheckTlvs(payload.Slice(block));
        var size = family == 1 ? 4 : 16;
        var source = new IPAddress(addresses[..size]);
        var destination = new IPAddress(addresses.Slice(size, size));
        var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(addresses[(2 * size)..]);
        var destinationPort = BinaryPrimitives.ReadUInt16BigEndian(addresses[((2 * size) + 2)..]);
        header = new ProxyHeader(2, command, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return true;
    }

    /// <summary>TLVs are skipped (none changes what the proxy does), but they must fit: a torn one means a torn header.</summary>
    private static void CheckTlvs(ReadOnlySequence<byte> tlvs)
    {
        var reader = new SequenceReader<byte>(tlvs);
        while (!reader.End)
        {
            if (!reader.TryRead(out _) || !reader.TryReadBigEndian(out short length) || reader.Remaining < (ushort)length)
            {
                throw new ProxyProtocolException(ProxyProtocolError.BadTlv, "v2 TLV runs past the header");
            }

            reader.Advance((ushort)length);
        }
    }
}
