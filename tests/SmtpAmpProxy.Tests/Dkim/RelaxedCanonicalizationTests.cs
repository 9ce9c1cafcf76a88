using System.Security.Cryptography;
using System.Text;
using SmtpAmpProxy.Dkim;
using static SmtpAmpProxy.Tests.Dkim.DkimTestSupport;

namespace SmtpAmpProxy.Tests.Dkim;

public sealed class RelaxedCanonicalizationTests
{
    // RFC 6376 §3.4.5, the example message, with its <SP>, <HTAB> and <CRLF> written out.
    private const string Rfc6376Example =
        "A: X\r\n" +
        "B : Y\t\r\n" +
        "\tZ  \r\n" +
        "\r\n" +
        " C \r\n" +
        "D \t E\r\n" +
        "\r\n" +
        "\r\n";

    [Fact]
    public void RelaxedHeader_Rfc6376Example_MatchesSection345()
    {
        var headers = HeaderBlock.Read(One(Ascii(Rfc6376Example)));

        var canonical = string.Concat(headers.Fields.Select(f => Encoding.ASCII.GetString(RelaxedHeader.Canonicalize(f.Name, headers.Value(f)))));

        Assert.Equal("a:X\r\nb:Y Z\r\n", canonical);
    }

    [Fact]
    public void RelaxedBody_Rfc6376Example_MatchesSection345()
    {
        var message = Ascii(Rfc6376Example);
        var headers = HeaderBlock.Read(One(message));

        var hash = RelaxedBodyHasher.Hash([message.AsMemory((int)headers.BodyStart)]);

        Assert.Equal(SHA256.HashData(" C\r\nD E\r\n"u8), hash);
    }

    [Fact]
    public void RelaxedBody_EmptyBody_HashesEmptyString()
    {
        var hash = RelaxedBodyHasher.Hash([]);

        // RFC 6376 erratum 3192: the relaxed empty body is the empty string.
        Assert.Equal("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", Convert.ToBase64String(hash));
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\r\n\r\n\r\n")]
    [InlineData(" \t \r\n\t\r\n")]
    public void RelaxedBody_OnlyEmptyLines_HashesEmptyString(string body)
    {
        Assert.Equal(SHA256.HashData([]), RelaxedBodyHasher.Hash([Ascii(body)]));
    }

    [Theory]
    [InlineData("text")]
    [InlineData("text\r\n")]
    [InlineData("text\r\n\r\n\r\n\r\n")]
    [InlineData("text  \t\r\n \r\n\r\n")]
    public void RelaxedBody_TrailingEmptyLines_AreIgnored(string body)
    {
        Assert.Equal(SHA256.HashData("text\r\n"u8), RelaxedBodyHasher.Hash([Ascii(body)]));
    }

    [Fact]
    public void RelaxedBody_LeadingAndInnerEmptyLines_AreKept()
    {
        var hash = RelaxedBodyHasher.Hash([Ascii("\r\n\r\na\r\n \r\n\r\nb\r\n\r\n")]);

        Assert.Equal(SHA256.HashData("\r\n\r\na\r\n\r\n\r\nb\r\n"u8), hash);
    }

    [Fact]
    public void RelaxedBody_WhiteSpaceRuns_BecomeOneSpaceAndLeadingSpaceStays()
    {
        var hash = RelaxedBodyHasher.Hash([Ascii("\t\t indented  and\t\tspaced \t\r\n")]);

        Assert.Equal(SHA256.HashData(" indented and spaced\r\n"u8), hash);
    }

    [Fact]
    public void RelaxedBody_EightBitBytes_PassUnchanged()
    {
        var body = Encoding.UTF8.GetBytes("Grüße  aus Köln ⚡\r\n\r\n");

        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes("Grüße aus Köln ⚡\r\n")), RelaxedBodyHasher.Hash([body]));
    }

    [Fact]
    public void RelaxedBody_AnySplitIntoTwoOrThreePieces_HashesAsWhole()
    {
        var body = Ascii("a  b\t\r\n\r\n c \r\nd\re\r\n \r\n\r\n");
        var whole = RelaxedBodyHasher.Hash([body]);

        for (var i = 0; i <= body.Length; i++)
        {
            for (var j = i; j <= body.Length; j++)
            {
                var pieces = new ReadOnlyMemory<byte>[] { body.AsMemory(0, i), body.AsMemory(i, j - i), body.AsMemory(j) };
                Assert.Equal(whole, RelaxedBodyHasher.Hash(pieces));
            }
        }
    }

    [Fact]
    public void RelaxedBody_LongBody_MatchesLineByLineReference()
    {
        // Longer than the hasher's buffer, so buffered and direct writes both happen.
        var builder = new StringBuilder();
        var expected = new StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            builder.Append("line ").Append(i).Append("  with\t\twhite   space \r\n");
            expected.Append("line ").Append(i).Append(" with white space\r\n");
        }

        builder.Append(new string('x', 40_000)).Append("\r\n\r\n");
        expected.Append(new string('x', 40_000)).Append("\r\n");

        Assert.Equal(SHA256.HashData(Ascii(expected.ToString())), RelaxedBodyHasher.Hash([Ascii(builder.ToString())]));
    }

    [Fact]
    public void RelaxedHeader_FoldedValueWithTabs_UnfoldsToSingleSpaces()
    {
        var canonical = RelaxedHeader.Canonicalize("subject", Ascii(" \tA  folded\r\n\t\r\n   subject \t"));

        Assert.Equal("subject:A folded subject\r\n", Encoding.ASCII.GetString(canonical));
    }
}
