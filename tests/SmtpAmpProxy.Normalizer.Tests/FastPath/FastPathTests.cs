using System.Text;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Scanning;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.FastPath;

public sealed class FastPathTests
{
    [Fact]
    public void Normalize_NonAmpMessage_SkipsTheTree()
    {
        var message = Message(Mixed(Alt(Plain(), Html()), Attachment()));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Null(result.Parsed);
        Assert.False(result.HasAmp);
    }

    [Theory]
    [InlineData("Text/X-AMP-Html; charset=utf-8")]
    [InlineData("TEXT/X-AMP-HTML")]
    [InlineData("text/x-Amp-hTml")]
    [InlineData("text/\r\n x-amp-html")]
    [InlineData("text\r\n\t/\r\n x-amp-html;\r\n charset=\"utf-8\"")]
    [InlineData("text/x-amp-html (AMP for email)")]
    [InlineData("  text/x-amp-html  ")]
    public void Normalize_OddlyWrittenAmpType_IsSeenAndRepaired(string contentType)
    {
        var message = Message(Alt(Plain(), Html(), Part(contentType, "<html amp4email></html>")));

        var result = Trees.Normalize(message);

        Assert.NotNull(result.Parsed);
        Assert.True(result.HasAmp);
        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
    }

    [Theory]
    [InlineData("Content-Type: Text/X-AMP-Html\r\n")]
    [InlineData("content-type:text/x-amp-html\r\n")]
    [InlineData("CONTENT-TYPE: text/\r\n\tX-Amp-Html\r\n")]
    public void Normalize_TopLevelAmpWithOddHeader_IsSeenAndRejected(string header)
    {
        var message = Encoding.ASCII.GetBytes($"From: a@example.com\r\nMIME-Version: 1.0\r\n{header}\r\n<html amp4email></html>\r\n");

        var result = Trees.Normalize(message);

        Assert.Equal("amp-misplaced", result.RejectCode);
    }

    /// <summary>
    /// Whatever the parser makes of a content type, the fast path must never call a message AMP-free
    /// when the parser would find an AMP part in it.
    /// </summary>
    [Theory]
    [InlineData("text/x-amp-html")]
    [InlineData("text/x-amp\r\n -html")]
    [InlineData("text/x-amp(comment)-html")]
    [InlineData("text/x-amp\\-html")]
    [InlineData("\"text/x-amp-html\"")]
    [InlineData("text/x-%61mp-html")]
    [InlineData("text/x-=?utf-8?q?amp?=-html")]
    [InlineData("text/x-\u0430mp-html")]
    [InlineData("text/x-amp-htm")]
    [InlineData("text/x-amp-html*")]
    public void FastPath_AgreesWithTheParserOnEveryContentTypeSpelling(string contentType)
    {
        var message = Encoding.UTF8.GetBytes(
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
            $"--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: {contentType}\r\n\r\namp\r\n--b--\r\n");

        bool parserSeesAmp = Trees.All(MimeParser.Parse(message, Trees.Limits).Root)
            .Any(e => e.ContentType.Is("text", "x-amp-html"));

        if (parserSeesAmp)
        {
            Assert.True(AmpFastPath.MayContainAmp(message));
        }

        Assert.Equal(parserSeesAmp, Trees.Normalize(message).HasAmp);
    }

    [Fact]
    public void MayContainAmp_NeedleAtEveryOffsetAndCase_IsFound()
    {
        var random = new Random(7);
        const string needle = "x-amp-html";
        for (int length = needle.Length; length < 200; length++)
        {
            for (int at = 0; at + needle.Length <= length; at++)
            {
                var buffer = new byte[length];
                random.NextBytes(buffer);
                for (int i = 0; i < buffer.Length; i++)
                {
                    // Keep random filler free of accidental needles.
                    buffer[i] = (byte)('0' + (buffer[i] % 10));
                }

                for (int k = 0; k < needle.Length; k++)
                {
                    char c = needle[k];
                    buffer[at + k] = (byte)(random.Next(2) == 0 ? char.ToUpperInvariant(c) : c);
                }

                Assert.Equal(at, AmpFastPath.IndexOfAmpSubtype(buffer));
            }
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("x-amp-htm")]
    [InlineData("x-amp-htmx")]
    [InlineData("y-amp-html")]
    [InlineData("x_amp-html")]
    [InlineData("x-amphtml")]
    [InlineData("text/amp-html")]
    [InlineData("X-AMP-HTM L")]
    public void MayContainAmp_NearMisses_AreNotFound(string text)
    {
        var padded = Encoding.ASCII.GetBytes(new string('x', 70) + text + new string('z', 70));

        Assert.False(AmpFastPath.MayContainAmp(padded));
        Assert.False(AmpFastPath.MayContainAmp(Encoding.ASCII.GetBytes(text)));
    }

    [Fact]
    public void MayContainAmp_NeedleCutByTheEndOfInput_IsNotFound()
    {
        var bytes = Encoding.ASCII.GetBytes(new string('a', 100) + "x-amp-htm");

        Assert.False(AmpFastPath.MayContainAmp(bytes));
        Assert.True(AmpFastPath.MayContainAmp(Encoding.ASCII.GetBytes(new string('a', 100) + "X-AMP-HTML")));
    }

    [Fact]
    public void MayContainAmp_LargeBase64BodyWithoutNeedle_IsNotFound()
    {
        var random = new Random(3);
        var raw = new byte[300_000];
        random.NextBytes(raw);
        var base64 = Encoding.ASCII.GetBytes(Convert.ToBase64String(raw, Base64FormattingOptions.InsertLineBreaks));

        Assert.Equal(-1, AmpFastPath.IndexOfAmpSubtype(base64));
    }
}
