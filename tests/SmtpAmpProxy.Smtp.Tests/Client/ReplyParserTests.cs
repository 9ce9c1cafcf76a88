using System.Text;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Tests.Client;

public sealed class ReplyParserTests
{
    private static SmtpReply ParseAll(string text, out int consumed)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        Assert.True(ReplyParser.TryParse(bytes, out SmtpReply reply, out consumed));
        return reply;
    }

    [Fact]
    public void TryParse_SingleLine_ReturnsCodeEnhancedCodeAndText()
    {
        SmtpReply reply = ParseAll("250 2.1.0 Sender ok\r\n", out int consumed);

        Assert.Equal(250, reply.Code);
        Assert.Equal("2.1.0", reply.EnhancedCode);
        Assert.Equal("Sender ok", reply.Text);
        Assert.Equal(21, consumed);
    }

    [Fact]
    public void TryParse_MultiLine_JoinsLinesAndStripsEnhancedCodeFromEach()
    {
        SmtpReply reply = ParseAll("550-5.7.1 first line\r\n550-5.7.1 second\r\n550 5.7.1 last\r\n", out _);

        Assert.Equal(550, reply.Code);
        Assert.Equal("5.7.1", reply.EnhancedCode);
        Assert.Equal("first line\nsecond\nlast", reply.Text);
    }

    [Fact]
    public void TryParse_EhloReply_KeepsKeywordsLineByLine()
    {
        SmtpReply reply = ParseAll("250-smtp.example.com\r\n250-PIPELINING\r\n250-SIZE 31457280\r\n250 AUTH PLAIN LOGIN\r\n", out _);

        Assert.Equal("", reply.EnhancedCode);
        Assert.Equal("smtp.example.com\nPIPELINING\nSIZE 31457280\nAUTH PLAIN LOGIN", reply.Text);
    }

    [Theory]
    [InlineData("250 Ok\r\n", "")]
    [InlineData("250 2.0.0\r\n", "2.0.0")]
    [InlineData("451 4.4.1 try later\r\n", "4.4.1")]
    [InlineData("250 5.0.0 class disagrees with the code\r\n", "")]
    [InlineData("250 2.0 too short\r\n", "")]
    [InlineData("250 2.1234.0 detail too long\r\n", "")]
    [InlineData("250 2.0.0x not followed by space\r\n", "")]
    public void TryParse_EnhancedCode_ExtractedOnlyWhenWellFormed(string input, string expected)
    {
        Assert.Equal(expected, ParseAll(input, out _).EnhancedCode);
    }

    [Fact]
    public void TryParse_CodeWithoutText_IsAReply()
    {
        SmtpReply reply = ParseAll("354\r\n", out int consumed);

        Assert.Equal(354, reply.Code);
        Assert.Equal("", reply.Text);
        Assert.Equal(5, consumed);
    }

    [Fact]
    public void TryParse_BareLfLineEnds_Accepted()
    {
        SmtpReply reply = ParseAll("250-a\n250 b\n", out int consumed);

        Assert.Equal("a\nb", reply.Text);
        Assert.Equal(12, consumed);
    }

    [Fact]
    public void TryParse_TwoRepliesBuffered_ConsumesOnlyTheFirst()
    {
        SmtpReply reply = ParseAll("250 first\r\n354 second\r\n", out int consumed);

        Assert.Equal(250, reply.Code);
        Assert.Equal(11, consumed);
    }

    [Fact]
    public void TryParse_EveryStrictPrefix_NeedsMoreAndConsumesNothing()
    {
        byte[] bytes = "250-smtp.example.com\r\n250-8BITMIME\r\n250 SIZE 1000\r\n"u8.ToArray();
        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.False(ReplyParser.TryParse(bytes.AsSpan(0, length), out _, out int consumed), $"prefix of {length} bytes");
            Assert.Equal(0, consumed);
        }

        Assert.True(ReplyParser.TryParse(bytes, out SmtpReply reply, out int all));
        Assert.Equal(bytes.Length, all);
        Assert.Equal("smtp.example.com\n8BITMIME\nSIZE 1000", reply.Text);
    }

    [Fact]
    public void TryParse_ControlCharactersInText_ReplacedBySpaces()
    {
        SmtpReply reply = ParseAll("550 bad\u0007\u001b[31m text\r\n", out _);

        Assert.Equal("bad  [31m text", reply.Text);
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\n")]
    [InlineData("25O oops\r\n")]
    [InlineData("250xtext\r\n")]
    [InlineData("99 short\r\n")]
    [InlineData("600 out of range\r\n")]
    [InlineData("199 out of range\r\n")]
    [InlineData("\r\n")]
    [InlineData("250-first\r\n550 code changed\r\n")]
    public void TryParse_Garbage_Throws(string input)
    {
        Assert.Throws<SmtpReplyFormatException>(() => ReplyParser.TryParse(Encoding.ASCII.GetBytes(input), out _, out _));
    }

    [Theory]
    [InlineData("H")]
    [InlineData("2x")]
    [InlineData("250-first\r\n9")]
    [InlineData("250-first\r\n251")]
    public void TryParse_GarbagePrefix_ThrowsWithoutWaitingForLineEnd(string input)
    {
        Assert.Throws<SmtpReplyFormatException>(() => ReplyParser.TryParse(Encoding.ASCII.GetBytes(input), out _, out _));
    }

    [Fact]
    public void TryParse_LineOverLimitWithoutEnd_Throws()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("250 " + new string('a', ReplyParser.MaxLineBytes));

        Assert.Throws<SmtpReplyFormatException>(() => ReplyParser.TryParse(bytes, out _, out _));
    }

    [Fact]
    public void TryParse_EndlessMultiLineReply_ThrowsAtReplyLimit()
    {
        var text = new StringBuilder();
        while (text.Length <= ReplyParser.MaxReplyBytes)
        {
            text.Append("250-more\r\n");
        }

        Assert.Throws<SmtpReplyFormatException>(() => ReplyParser.TryParse(Encoding.ASCII.GetBytes(text.ToString()), out _, out _));
    }

    [Fact]
    public void TryParse_Utf8Text_Decoded()
    {
        Assert.Equal("Grüße", ParseAll("250 Grüße\r\n", out _).Text);
    }
}
