using System.Buffers;
using System.Text;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Tests.Protocol;

public sealed class SmtpReplyTests
{
    [Theory]
    [InlineData(250, "2.0.0", "Ok", "250 2.0.0 Ok\r\n")]
    [InlineData(354, "", "Go ahead", "354 Go ahead\r\n")]
    [InlineData(250, "", "a\nb\nc", "250-a\r\n250-b\r\n250 c\r\n")]
    [InlineData(550, "5.7.1", "line one\nline two", "550-5.7.1 line one\r\n550 5.7.1 line two\r\n")]
    [InlineData(550, "5.7.1", "evil\r\n250 ok", "550-5.7.1 evil?\r\n550 5.7.1 250 ok\r\n")]
    [InlineData(550, "5.7.1", "nul\0tab\tdel\u007f", "550 5.7.1 nul?tab?del?\r\n")]
    [InlineData(550, "bogus", "x", "550 x\r\n")]
    [InlineData(99, "", "x", "451 x\r\n")]
    public void Write_Reply_IsWireFormat(int code, string enhanced, string text, string expected)
    {
        var buffer = new ArrayBufferWriter<byte>();
        SmtpReplyWriter.Write(buffer, new SmtpReply(code, enhanced, text));
        Assert.Equal(expected, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Theory]
    [InlineData(250, true, false, false)]
    [InlineData(354, true, false, false)]
    [InlineData(421, false, true, false)]
    [InlineData(554, false, false, true)]
    public void Classification_ByCode(int code, bool positive, bool transient, bool permanent)
    {
        var reply = new SmtpReply(code, "", "x");
        Assert.Equal(positive, reply.IsPositive);
        Assert.Equal(transient, reply.IsTransientFailure);
        Assert.Equal(permanent, reply.IsPermanentFailure);
    }
}
