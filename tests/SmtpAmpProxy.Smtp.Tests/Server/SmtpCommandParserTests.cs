using System.Buffers;
using System.Text;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Smtp.Tests.Server;

public sealed class SmtpCommandParserTests
{
    public static TheoryData<string> Commands =>
    [
        "EHLO client.test\r\n",
        "HELO client.test\r\n",
        "MAIL FROM:<a@b.test> SIZE=10 BODY=7BIT\r\n",
        "MAIL FROM:<>\r\n",
        "RCPT TO:<\"quoted local\"@b.test>\r\n",
        "DATA\r\n",
        "RSET\r\n",
        "NOOP\r\n",
        "QUIT\r\n",
        "VRFY x\r\n",
        "HELP\r\n",
        "STARTTLS\r\n",
        "AUTH PLAIN AHVzZXIAcGFzcw==\r\n",
        "BOGUS stuff\r\n",
    ];

    [Theory]
    [MemberData(nameof(Commands))]
    public void TryParse_EveryPrefix_NeedsMoreAndConsumesNothing(string line)
    {
        var bytes = Encoding.ASCII.GetBytes(line);
        for (var length = 0; length < bytes.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, length));
            Assert.False(SmtpCommandParser.TryParse(ref reader, 2048, out _), $"prefix of {length} bytes parsed");
            Assert.Equal(0, reader.Consumed);
        }

        var full = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(SmtpCommandParser.TryParse(ref full, 2048, out _));
        Assert.Equal(bytes.Length, full.Consumed);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void TryParse_SplitAcrossSegments_ParsesLikeOneSegment(string line)
    {
        var bytes = Encoding.ASCII.GetBytes(line);
        var expected = Parse(new ReadOnlySequence<byte>(bytes));
        for (var split = 1; split < bytes.Length; split++)
        {
            var actual = Parse(TwoSegments(bytes, split));
            Assert.Equal(expected.Verb, actual.Verb);
            Assert.Equal(expected.Argument, actual.Argument);
            Assert.Equal(expected.Parameters, actual.Parameters);
            Assert.Equal(expected.Error, actual.Error);
        }
    }

    [Fact]
    public void TryParse_PipelinedLines_ReturnsOneCommandAtATime()
    {
        var bytes = Encoding.ASCII.GetBytes("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        var verbs = new List<SmtpVerb>();
        while (SmtpCommandParser.TryParse(ref reader, 2048, out var command))
        {
            verbs.Add(command.Verb);
        }

        Assert.Equal([SmtpVerb.Mail, SmtpVerb.Rcpt, SmtpVerb.Data], verbs);
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void TryParse_LineOverLimitWithoutLf_ConsumesAllAsTooLong()
    {
        var bytes = Encoding.ASCII.GetBytes("NOOP " + new string('x', 100));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.True(SmtpCommandParser.TryParse(ref reader, 64, out var command));
        Assert.Equal(SmtpVerb.LineTooLong, command.Verb);
        Assert.False(command.LineComplete);
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void TryParse_LineExactlyAtLimit_IsAccepted()
    {
        var line = "NOOP " + new string('x', 64 - 7) + "\r\n";
        Assert.Equal(64, line.Length);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(line)));
        Assert.True(SmtpCommandParser.TryParse(ref reader, 64, out var command));
        Assert.Equal(SmtpVerb.Noop, command.Verb);
    }

    [Fact]
    public void TryParse_LineOneOverLimitWithLf_IsTooLongAndComplete()
    {
        var line = "NOOP " + new string('x', 65 - 7) + "\r\n";
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(line)));
        Assert.True(SmtpCommandParser.TryParse(ref reader, 64, out var command));
        Assert.Equal(SmtpVerb.LineTooLong, command.Verb);
        Assert.True(command.LineComplete);
        Assert.Equal(0, reader.Remaining);
    }

    [Theory]
    [InlineData("ehlo", "Ehlo")]
    [InlineData("StartTls", "StartTls")]
    [InlineData("ſtarttls", "Unknown")]   // U+017F folds to 'S' under some cultures; never here
    [InlineData("EHLO\u212A", "Unknown")] // Kelvin sign folds to 'k'
    [InlineData("MAİL", "Unknown")]       // Turkish dotted I
    [InlineData("MAIL1", "Unknown")]
    [InlineData("MAI", "Unknown")]
    [InlineData("M@IL", "Unknown")]
    [InlineData("", "Unknown")]
    public void MatchVerb_AsciiOnlyCaseFold(string verb, string expected) =>
        Assert.Equal(expected, SmtpCommandParser.MatchVerb(Encoding.UTF8.GetBytes(verb)).ToString());

    [Theory]
    [InlineData("MAIL FROM:<a@b.test>", "a@b.test")]
    [InlineData("MAIL FROM: <a@b.test>", "a@b.test")]
    [InlineData("MAIL FROM:<\"x y\"@b.test>", "\"x y\"@b.test")]
    [InlineData("MAIL FROM:<a@[192.0.2.1]>", "a@[192.0.2.1]")]
    [InlineData("MAIL FROM:<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]")]
    [InlineData("MAIL FROM:<a.b+c@sub.b-c.test>", "a.b+c@sub.b-c.test")]
    [InlineData("MAIL FROM:<>", "")]
    public void Parse_ValidMail_ReturnsAddress(string line, string address)
    {
        var command = SmtpCommandParser.Parse(Encoding.UTF8.GetBytes(line));
        Assert.Null(command.Error);
        Assert.Equal(address, command.Argument);
    }

    [Theory]
    [InlineData("MAIL FROM:<a..b@b.test>", "5.1.7")]
    [InlineData("MAIL FROM:<.a@b.test>", "5.1.7")]
    [InlineData("MAIL FROM:<a@-b.test>", "5.1.7")]
    [InlineData("MAIL FROM:<a@b..test>", "5.1.7")]
    [InlineData("MAIL FROM:<a@>", "5.1.7")]
    [InlineData("MAIL FROM:<@b.test>", "5.1.7")]
    [InlineData("MAIL FROM:<a>", "5.1.7")]
    [InlineData("MAIL FROM:<a@b.test", "5.5.4")]
    [InlineData("MAIL FROM:<a@b.test>SIZE=1", "5.5.4")]
    [InlineData("MAIL FROM:<\"a\0\"@b.test>", "5.1.7")]
    [InlineData("MAIL FROM:<a@b.test> SIZE=1\0", "5.5.4")]
    [InlineData("MAIL FROM:<a@b.test> SMTPUTF8=yes", "5.5.4")]
    public void Parse_InvalidMail_GivesEnhancedCode(string line, string enhanced)
    {
        var command = SmtpCommandParser.Parse(Encoding.UTF8.GetBytes(line));
        Assert.Equal(enhanced, command.Error?.EnhancedCode);
    }

    [Fact]
    public void Parse_LocalPartOver64Bytes_IsRefused()
    {
        var command = SmtpCommandParser.Parse(Encoding.ASCII.GetBytes($"RCPT TO:<{new string('a', 65)}@b.test>"));
        Assert.Equal("5.1.3", command.Error?.EnhancedCode);
    }

    [Fact]
    public void Parse_MailParameters_AreDecoded()
    {
        var command = SmtpCommandParser.Parse(Encoding.ASCII.GetBytes("MAIL FROM:<a@b.test> size=123 body=8bitmime SMTPUTF8 AUTH=<>"));
        Assert.Null(command.Error);
        Assert.Equal(new MailParameters(123, "8BITMIME", true, "size=123 body=8bitmime SMTPUTF8 AUTH=<>"), command.Mail);
    }

    [Fact]
    public void Parse_HugeSize_IsClampedNotAnError()
    {
        var command = SmtpCommandParser.Parse(Encoding.ASCII.GetBytes("MAIL FROM:<a@b.test> SIZE=99999999999999999999"));
        Assert.Equal(long.MaxValue, command.Mail?.Size);
    }

    [Theory]
    [InlineData("AUTH PLAIN", "PLAIN", null)]
    [InlineData("auth login dXNlcg==", "LOGIN", "dXNlcg==")]
    [InlineData("AUTH PLAIN =", "PLAIN", "=")]
    public void Parse_Auth_SplitsMechanismAndInitialResponse(string line, string mechanism, string? initial)
    {
        var command = SmtpCommandParser.Parse(Encoding.ASCII.GetBytes(line));
        Assert.Null(command.Error);
        Assert.Equal(mechanism, command.Argument);
        Assert.Equal(initial, command.Parameters);
    }

    [Theory]
    [InlineData("AUTH")]
    [InlineData("AUTH PLAIN a\0b")]
    [InlineData("AUTH PL@IN")]
    public void Parse_BadAuth_Is501(string line) =>
        Assert.Equal(501, SmtpCommandParser.Parse(Encoding.ASCII.GetBytes(line)).Error?.Code);

    [Fact]
    public void Parse_BareCrBeforeLf_IsStrippedOnce()
    {
        var command = SmtpCommandParser.Parse("NOOP\r"u8);
        Assert.Equal(SmtpVerb.Noop, command.Verb);
        Assert.Equal("500 5.5.2 Error: command not recognized", SmtpCommandParser.Parse("DATA\r\r"u8).Error?.ToString());
    }

    private static SmtpCommand Parse(ReadOnlySequence<byte> sequence)
    {
        var reader = new SequenceReader<byte>(sequence);
        Assert.True(SmtpCommandParser.TryParse(ref reader, 2048, out var command));
        return command;
    }

    internal static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int split)
    {
        var first = new Segment(bytes.AsMemory(0, split));
        var last = first.Append(bytes.AsMemory(split));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
