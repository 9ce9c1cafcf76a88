using System.Text;
using SmtpAmpProxy.Smtp.Client;

namespace SmtpAmpProxy.Smtp.Tests.Client;

public sealed class DataEncoderTests
{
    /// <summary>Encodes the segments through an output window of the given size, as the writer does.</summary>
    internal static byte[] Encode(IEnumerable<byte[]> segments, int window = 4096)
    {
        var encoder = new DataEncoder();
        var output = new MemoryStream();
        var buffer = new byte[window];
        foreach (byte[] segment in segments)
        {
            ReadOnlySpan<byte> rest = segment;
            while (!rest.IsEmpty)
            {
                encoder.Encode(rest, buffer, out int consumed, out int written);
                Assert.True(consumed > 0 || written > 0, "no progress");
                output.Write(buffer, 0, written);
                rest = rest[consumed..];
            }
        }

        var trailer = new byte[DataEncoder.MaxTrailerBytes];
        int end = encoder.Complete(trailer);
        output.Write(trailer, 0, end);
        return output.ToArray();
    }

    private static string EncodeText(params string[] segments) =>
        Encoding.Latin1.GetString(Encode(segments.Select(s => Encoding.Latin1.GetBytes(s))));

    [Theory]
    [InlineData("Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n")]
    [InlineData("no final line end", "no final line end\r\n.\r\n")]
    [InlineData("", ".\r\n")]
    [InlineData(".\r\n", "..\r\n.\r\n")]
    [InlineData("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n")]
    [InlineData("a\r\n..two\r\n", "a\r\n...two\r\n.\r\n")]
    [InlineData("mid.line.dots\r\n", "mid.line.dots\r\n.\r\n")]
    [InlineData("a\nb\n", "a\r\nb\r\n.\r\n")]
    [InlineData("a\rb\r", "a\r\nb\r\n.\r\n")]
    [InlineData("a\r\r\nb", "a\r\n\r\nb\r\n.\r\n")]
    [InlineData("a\n\rb", "a\r\n\r\nb\r\n.\r\n")]
    public void Encode_OneSegment_CanonicalCrLfAndDotStuffed(string input, string expected)
    {
        Assert.Equal(expected, EncodeText(input));
    }

    [Fact]
    public void Encode_SmugglingAttempt_BareLfDotLineStaysContent()
    {
        // The DESIGN example: the dot after a bare LF is a line start for the upstream, so it is doubled
        // and "MAIL FROM" stays body text of the same message.
        string encoded = EncodeText("hello\n.\r\nMAIL FROM:<evil@example.com>\r\n");

        Assert.Equal("hello\r\n..\r\nMAIL FROM:<evil@example.com>\r\n.\r\n", encoded);
        Assert.Equal(1, CountOccurrences(encoded, "\r\n.\r\n"));
    }

    [Fact]
    public void Encode_BareCrDotCr_NeverEndsDataEarly()
    {
        string encoded = EncodeText("x\r.\rRSET\r");

        Assert.Equal("x\r\n..\r\nRSET\r\n.\r\n", encoded);
    }

    [Fact]
    public void Encode_DotAtStartOfSegmentAfterCrLfSegment_Doubled()
    {
        Assert.Equal("line\r\n..hidden\r\n.\r\n", EncodeText("line\r\n", ".hidden\r\n"));
    }

    [Fact]
    public void Encode_DotAtStartOfFirstSegment_Doubled()
    {
        Assert.Equal("..x\r\n.\r\n", EncodeText(".x\r\n"));
    }

    [Fact]
    public void Encode_DotAtStartOfSegmentMidLine_NotDoubled()
    {
        Assert.Equal("ab.c\r\n.\r\n", EncodeText("ab", ".c\r\n"));
    }

    [Fact]
    public void Encode_CrAndLfSplitAcrossSegments_OneLineEnd()
    {
        Assert.Equal("a\r\n..b\r\n.\r\n", EncodeText("a\r", "\n.b\r", "\n"));
    }

    [Fact]
    public void Encode_CrAtEndOfSegmentThenDot_BareCrIsLineEndAndDotDoubled()
    {
        Assert.Equal("a\r\n..\r\n.\r\n", EncodeText("a\r", ".\r\n"));
    }

    [Fact]
    public void Encode_LfAloneInSegmentAfterCr_OneLineEnd()
    {
        Assert.Equal("a\r\nb\r\n.\r\n", EncodeText("a", "\r", "\n", "b"));
    }

    [Fact]
    public void Encode_ContentEndingWithCr_GetsOneCrLfBeforeTerminator()
    {
        Assert.Equal("a\r\n.\r\n", EncodeText("a\r"));
    }

    [Fact]
    public void Encode_EmptySegments_Ignored()
    {
        Assert.Equal("a\r\n..b\r\n.\r\n", EncodeText("", "a\r\n", "", ".b", ""));
    }

    [Fact]
    public void Encode_EightBitBytes_PassUnchanged()
    {
        byte[] input = [0xC3, 0xA9, 0x80, 0xFF, 0x00, (byte)'\r', (byte)'\n'];

        byte[] output = Encode([input]);

        Assert.Equal([0xC3, 0xA9, 0x80, 0xFF, 0x00, (byte)'\r', (byte)'\n', (byte)'.', (byte)'\r', (byte)'\n'], output);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    public void Encode_SmallOutputWindows_SameBytesAsLargeWindow(int window)
    {
        string input = ".a\r\n.\nb\r.c\r\r\n..\n" + new string('x', 200) + "\r\n.end";
        byte[] expected = Encode([Encoding.ASCII.GetBytes(input)]);

        byte[] actual = Encode([Encoding.ASCII.GetBytes(input)], window);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Encode_EverySplitPoint_SameAsUnsplit()
    {
        byte[] input = Encoding.ASCII.GetBytes("a\r\n.b\n.\r\rc\r\n..\r\nd");
        byte[] expected = Encode([input]);
        for (int split = 0; split <= input.Length; split++)
        {
            Assert.Equal(expected, Encode([input[..split], input[split..]]));
        }
    }

    [Fact]
    public void Encode_AnyInput_OutputHasOnlyCrLfLineEndsAndOneTerminator()
    {
        var random = new Random(5321);
        byte[] alphabet = "\r\n.a"u8.ToArray();
        for (int round = 0; round < 200; round++)
        {
            byte[] input = new byte[random.Next(0, 40)];
            for (int i = 0; i < input.Length; i++)
            {
                input[i] = alphabet[random.Next(alphabet.Length)];
            }

            byte[] output = Encode([input], window: random.Next(2, 16));
            string text = Encoding.ASCII.GetString(output);

            Assert.EndsWith("\r\n.\r\n", text.Length >= 5 ? text : "\r\n" + text);
            string body = text[..^3];
            Assert.DoesNotContain("\r\n.\r\n", "\r\n" + body);
            for (int i = 0; i < output.Length; i++)
            {
                if (output[i] == '\r')
                {
                    Assert.Equal((byte)'\n', output[i + 1]);
                }

                if (output[i] == '\n')
                {
                    Assert.Equal((byte)'\r', output[i - 1]);
                }
            }
        }
    }

    private static int CountOccurrences(string text, string value)
    {
        int count = 0;
        for (int i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
