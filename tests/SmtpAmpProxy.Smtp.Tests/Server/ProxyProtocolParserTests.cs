using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;
using SmtpAmpProxy.Smtp.Server.ProxyProtocol;

namespace SmtpAmpProxy.Smtp.Tests.Server;

public sealed class ProxyProtocolParserTests
{
    private static readonly byte[] V2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static TheoryData<string> ValidHeaders => new()
    {
        "v1 tcp4",
        "v1 tcp6",
        "v1 unknown",
        "v1 unknown with addresses",
        "v2 proxy inet",
        "v2 proxy inet6",
        "v2 local",
        "v2 proxy inet with tlvs",
        "v2 proxy unspec",
        "v2 proxy unix",
    };

    [Fact]
    public void ParseV1_Tcp4_GivesSourceAndDestination()
    {
        var header = ParseWhole("PROXY TCP4 192.0.2.10 198.51.100.1 56324 25\r\n"u8.ToArray());

        Assert.Equal(1, header.Version);
        Assert.Equal(ProxyCommand.Proxy, header.Command);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 56324), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 25), header.Destination);
    }

    [Fact]
    public void ParseV1_Tcp6_GivesIpv6Source()
    {
        var header = ParseWhole("PROXY TCP6 2001:db8::1 2001:db8::ff 65535 587\r\n"u8.ToArray());

        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 65535), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::ff"), 587), header.Destination);
    }

    [Theory]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n")]
    public void ParseV1_Unknown_HasNoSource(string line)
    {
        var header = ParseWhole(Encoding.ASCII.GetBytes(line));

        Assert.Equal(ProxyCommand.Proxy, header.Command);
        Assert.Null(header.Source);
    }

    [Fact]
    public void ParseV1_LongestTcp6Line_IsAccepted()
    {
        const string Full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        var line = Encoding.ASCII.GetBytes($"PROXY TCP6 {Full} {Full} 65535 65535\r\n");
        Assert.Equal(ProxyHeaderParser.MaxV1Bytes - 3, line.Length);

        Assert.Equal(65535, ParseWhole(line).Source!.Port);
    }

    [Fact]
    public void ParseV2_ProxyInet_GivesSourceAndDestination()
    {
        var header = ParseWhole(V2(0x21, 0x11, Inet4("203.0.113.7", "10.0.0.5", 40000, 2525)));

        Assert.Equal(2, header.Version);
        Assert.Equal(ProxyCommand.Proxy, header.Command);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 40000), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.5"), 2525), header.Destination);
    }

    [Fact]
    public void ParseV2_ProxyInet6_GivesIpv6Source()
    {
        var header = ParseWhole(V2(0x21, 0x21, Inet6("2001:db8::7", "2001:db8::1", 1, 25)));

        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 1), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 25), header.Destination);
    }

    [Fact]
    public void ParseV2_Local_KeepsSocketAddress()
    {
        // A health check: LOCAL with whatever block the balancer sends; the addresses must be ignored.
        var header = ParseWhole(V2(0x20, 0x11, Inet4("203.0.113.7", "10.0.0.5", 40000, 2525)));

        Assert.Equal(ProxyCommand.Local, header.Command);
        Assert.Null(header.Source);
    }

    [Fact]
    public void ParseV2_LocalUnspecEmpty_IsAccepted()
    {
        var header = ParseWhole(V2(0x20, 0x00, []));

        Assert.Equal(ProxyCommand.Local, header.Command);
        Assert.Null(header.Source);
    }

    [Fact]
    public void ParseV2_Tlvs_AreSkipped()
    {
        var tlvs = new byte[] { 0x01, 0x00, 0x02, (byte)'h', (byte)'2', 0x04, 0x00, 0x00, 0xEA, 0x00, 0x03, 1, 2, 3 };
        var bytes = V2(0x21, 0x11, [.. Inet4("198.51.100.9", "10.0.0.5", 1234, 25), .. tlvs]);

        var header = ParseWhole(bytes);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.9"), 1234), header.Source);
    }

    [Fact]
    public void ParseV2_ProxyUnspec_HasNoSource()
    {
        Assert.Null(ParseWhole(V2(0x21, 0x00, [])).Source);
    }

    [Fact]
    public void ParseV2_ProxyUnix_HasNoSource()
    {
        Assert.Null(ParseWhole(V2(0x21, 0x31, new byte[216])).Source);
    }

    [Theory]
    [MemberData(nameof(ValidHeaders))]
    public void TryParse_EveryPrefix_NeedsMoreAndConsumesNothing(string name)
    {
        var whole = Header(name);
        for (var length = 0; length < whole.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(whole, 0, length));

            Assert.False(ProxyHeaderParser.TryParse(ref reader, out _), $"{name}: prefix of {length} bytes");
            Assert.Equal(0, reader.Consumed);
        }
    }

    [Theory]
    [MemberData(nameof(ValidHeaders))]
    public void TryParse_SplitAcrossSegments_GivesSameHeader(string name)
    {
        var whole = Header(name);
        var expected = ParseWhole(whole);
        for (var split = 1; split < whole.Length; split++)
        {
            var reader = new SequenceReader<byte>(Segmented(whole[..split], whole[split..]));

            Assert.True(ProxyHeaderParser.TryParse(ref reader, out var header), $"{name}: split at {split}");
            Assert.Equal(expected, header);
            Assert.Equal(whole.Length, reader.Consumed);
        }
    }

    [Theory]
    [MemberData(nameof(ValidHeaders))]
    public void TryParse_FollowedBySmtp_ConsumesOnlyTheHeader(string name)
    {
        var whole = Header(name);
        byte[] bytes = [.. whole, .. "EHLO client\r\n"u8];
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));

        Assert.True(ProxyHeaderParser.TryParse(ref reader, out _));
        Assert.Equal(whole.Length, reader.Consumed);
    }

    [Theory]
    [InlineData("EHLO client.test\r\n", nameof(ProxyProtocolError.BadSignature))]
    [InlineData("E", nameof(ProxyProtocolError.BadSignature))]
    [InlineData("PROXX", nameof(ProxyProtocolError.BadSignature))]
    [InlineData("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", nameof(ProxyProtocolError.BadSignature))]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", nameof(ProxyProtocolError.BadLine))]
    [InlineData("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", nameof(ProxyProtocolError.BadLine))]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", nameof(ProxyProtocolError.BadLine))]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", nameof(ProxyProtocolError.BadLine))]
    [InlineData("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", nameof(ProxyProtocolError.BadLine))]
    [InlineData("PROXY UNKNOWNX\r\n", nameof(ProxyProtocolError.BadLine))]
    [InlineData("PROXY \r\n", nameof(ProxyProtocolError.BadLine))]
    [InlineData("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", nameof(ProxyProtocolError.BadAddress))]
    [InlineData("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", nameof(ProxyProtocolError.BadAddress))]
    [InlineData("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", nameof(ProxyProtocolError.BadAddress))]
    [InlineData("PROXY TCP4 0x7f.0.0.1 5.6.7.8 1 2\r\n", nameof(ProxyProtocolError.BadAddress))]
    [InlineData("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n", nameof(ProxyProtocolError.BadAddress))]
    [InlineData("PROXY TCP6 1.2.3.4 2001:db8::1 1 2\r\n", nameof(ProxyProtocolError.BadAddress))]
    [InlineData("PROXY TCP6 fe80::1%eth0 2001:db8::1 1 2\r\n", nameof(ProxyProtocolError.BadAddress))]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", nameof(ProxyProtocolError.BadPort))]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", nameof(ProxyProtocolError.BadPort))]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 smtp\r\n", nameof(ProxyProtocolError.BadPort))]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n", nameof(ProxyProtocolError.BadPort))]
    public void TryParse_MalformedV1_ThrowsWithReason(string text, string expected)
    {
        Assert.Equal(expected, ParseError(Encoding.ASCII.GetBytes(text)).ToString());
    }

    [Fact]
    public void TryParse_V1LineWithoutEndWithin107Bytes_IsTooLong()
    {
        var bytes = Encoding.ASCII.GetBytes("PROXY UNKNOWN " + new string('x', 200));

        Assert.Equal(ProxyProtocolError.LineTooLong, ParseError(bytes[..ProxyHeaderParser.MaxV1Bytes]));
        Assert.False(TryParse(bytes[..(ProxyHeaderParser.MaxV1Bytes - 1)]));
    }

    [Fact]
    public void TryParse_V2BadSignature_Throws()
    {
        var bytes = V2(0x21, 0x11, Inet4("1.2.3.4", "5.6.7.8", 1, 2));
        bytes[7] = (byte)'X';

        Assert.Equal(ProxyProtocolError.BadSignature, ParseError(bytes[..8]));
    }

    [Theory]
    [InlineData(0x11, 0x11, nameof(ProxyProtocolError.BadVersion))]
    [InlineData(0x31, 0x11, nameof(ProxyProtocolError.BadVersion))]
    [InlineData(0x22, 0x11, nameof(ProxyProtocolError.BadCommand))]
    [InlineData(0x21, 0x41, nameof(ProxyProtocolError.BadFamily))]
    [InlineData(0x21, 0x13, nameof(ProxyProtocolError.BadFamily))]
    public void TryParse_V2BadVersionCommandOrFamily_Throws(byte versionCommand, byte family, string expected)
    {
        Assert.Equal(expected, ParseError(V2(versionCommand, family, Inet4("1.2.3.4", "5.6.7.8", 1, 2))).ToString());
    }

    [Fact]
    public void TryParse_V2BadVersion_IsRefusedBeforeTheRestArrives()
    {
        var bytes = V2(0x11, 0x11, Inet4("1.2.3.4", "5.6.7.8", 1, 2));

        Assert.Equal(ProxyProtocolError.BadVersion, ParseError(bytes[..13]));
    }

    [Theory]
    [InlineData(0x11, 11)]
    [InlineData(0x21, 35)]
    [InlineData(0x31, 215)]
    public void TryParse_V2LengthShorterThanAddressBlock_Throws(byte family, int length)
    {
        Assert.Equal(ProxyProtocolError.BadLength, ParseError(V2(0x21, family, new byte[length])));
    }

    [Fact]
    public void TryParse_V2LengthOverLimit_ThrowsOnTheFixedPart()
    {
        var bytes = V2(0x21, 0x11, Inet4("1.2.3.4", "5.6.7.8", 1, 2));
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(14), ProxyHeaderParser.MaxV2PayloadBytes + 1);

        Assert.Equal(ProxyProtocolError.BadLength, ParseError(bytes[..16]));
    }

    [Fact]
    public void TryParse_V2TlvPastTheEnd_Throws()
    {
        byte[] tornTlv = [0x04, 0x00, 0x09, 1, 2];

        Assert.Equal(ProxyProtocolError.BadTlv, ParseError(V2(0x21, 0x11, [.. Inet4("1.2.3.4", "5.6.7.8", 1, 2), .. tornTlv])));
    }

    private static byte[] Header(string name) => name switch
    {
        "v1 tcp4" => "PROXY TCP4 192.0.2.10 198.51.100.1 56324 25\r\n"u8.ToArray(),
        "v1 tcp6" => "PROXY TCP6 2001:db8::1 2001:db8::ff 65535 587\r\n"u8.ToArray(),
        "v1 unknown" => "PROXY UNKNOWN\r\n"u8.ToArray(),
        "v1 unknown with addresses" => "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n"u8.ToArray(),
        "v2 proxy inet" => V2(0x21, 0x11, Inet4("203.0.113.7", "10.0.0.5", 40000, 2525)),
        "v2 proxy inet6" => V2(0x21, 0x21, Inet6("2001:db8::7", "2001:db8::1", 1, 25)),
        "v2 local" => V2(0x20, 0x00, []),
        "v2 proxy inet with tlvs" => V2(0x21, 0x11, [.. Inet4("198.51.100.9", "10.0.0.5", 1234, 25), 0x03, 0x00, 0x04, 1, 2, 3, 4]),
        "v2 proxy unspec" => V2(0x21, 0x00, []),
        "v2 proxy unix" => V2(0x21, 0x31, new byte[216]),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static byte[] V2(byte versionCommand, byte family, byte[] payload)
    {
        var bytes = new byte[16 + payload.Length];
        V2Signature.CopyTo(bytes, 0);
        bytes[12] = versionCommand;
        bytes[13] = family;
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(14), (ushort)payload.Length);
        payload.CopyTo(bytes, 16);
        return bytes;
    }

    private static byte[] Inet4(string source, string destination, ushort sourcePort, ushort destinationPort) =>
        [.. IPAddress.Parse(source).GetAddressBytes(), .. IPAddress.Parse(destination).GetAddressBytes(), .. Port(sourcePort), .. Port(destinationPort)];

    private static byte[] Inet6(string source, string destination, ushort sourcePort, ushort destinationPort) => Inet4(source, destination, sourcePort, destinationPort);

    private static byte[] Port(ushort port) => [(byte)(port >> 8), (byte)port];

    private static ProxyHeader ParseWhole(byte[] bytes)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(ProxyHeaderParser.TryParse(ref reader, out var header));
        Assert.Equal(bytes.Length, reader.Consumed);
        return header;
    }

    private static bool TryParse(byte[] bytes)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        return ProxyHeaderParser.TryParse(ref reader, out _);
    }

    private static ProxyProtocolError ParseError(byte[] bytes)
    {
        var error = Assert.Throws<ProxyProtocolException>(() => TryParse(bytes));
        return error.Error;
    }

    private static ReadOnlySequence<byte> Segmented(byte[] first, byte[] second)
    {
        var head = new Segment(first, 0);
        var tail = head.Append(second);
        return new ReadOnlySequence<byte>(head, 0, tail, second.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
