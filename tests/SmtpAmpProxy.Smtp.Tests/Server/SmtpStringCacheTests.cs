using System.Text;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>Repeated MAIL and RCPT strings of a session are reused, never confused.</summary>
public sealed class SmtpStringCacheTests
{
    private static SmtpCommand Parse(string line, SmtpStringCache cache) => SmtpCommandParser.Parse(Encoding.UTF8.GetBytes(line), cache);

    [Fact]
    public void RepeatedMailAndRcpt_SameStringsAndParameterRecord()
    {
        var cache = new SmtpStringCache();
        var mail1 = Parse("MAIL FROM:<sender@example.com> SIZE=5120 BODY=8BITMIME", cache);
        var rcpt1 = Parse("RCPT TO:<rcpt@example.org>", cache);
        var mail2 = Parse("MAIL FROM:<sender@example.com> SIZE=5120 BODY=8BITMIME", cache);
        var rcpt2 = Parse("RCPT TO:<rcpt@example.org>", cache);

        Assert.Same(mail1.Argument, mail2.Argument);
        Assert.Same(mail1.Mail, mail2.Mail);
        Assert.Same(rcpt1.Argument, rcpt2.Argument);
        Assert.Equal("sender@example.com", mail2.Argument);
        Assert.Equal(5120, mail2.Mail!.Size);
        Assert.Equal("8BITMIME", mail2.Mail.Body);
    }

    [Fact]
    public void ChangedParameters_NewRecordWithTheNewValues()
    {
        var cache = new SmtpStringCache();
        var first = Parse("MAIL FROM:<sender@example.com> SIZE=5120", cache);
        var second = Parse("MAIL FROM:<sender@example.com> SIZE=9999 SMTPUTF8", cache);
        var none = Parse("MAIL FROM:<sender@example.com>", cache);

        Assert.NotSame(first.Mail, second.Mail);
        Assert.Equal(9999, second.Mail!.Size);
        Assert.True(second.Mail.SmtpUtf8);
        Assert.Null(none.Mail!.Size);
        Assert.False(none.Mail.SmtpUtf8);
        Assert.Equal("", none.Mail.Raw);
    }

    [Fact]
    public void ManyDistinctAddresses_EachParsesToItsOwnValue()
    {
        var cache = new SmtpStringCache();
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < 20; i++)
            {
                Assert.Equal($"user{i}@example.org", Parse($"RCPT TO:<user{i}@example.org>", cache).Argument);
            }
        }

        // Same length, different bytes: never taken for one another.
        Assert.Equal("aaaa@example.org", Parse("RCPT TO:<aaaa@example.org>", cache).Argument);
        Assert.Equal("aaab@example.org", Parse("RCPT TO:<aaab@example.org>", cache).Argument);
    }

    [Fact]
    public void StringPastTheCachedLength_ReturnedButNotKept()
    {
        var cache = new SmtpStringCache();
        var bytes = Encoding.ASCII.GetBytes(new string('x', 600));

        var first = cache.Get(bytes);
        var second = cache.Get(bytes);

        Assert.Equal(new string('x', 600), second);
        Assert.NotSame(first, second);
    }

    [Fact]
    public void Utf8Address_CachedByItsBytes()
    {
        var cache = new SmtpStringCache();
        var first = Parse("RCPT TO:<jürgen@bücher.example>", cache);
        var second = Parse("RCPT TO:<jürgen@bücher.example>", cache);

        Assert.Equal("jürgen@bücher.example", second.Argument);
        Assert.True(second.PathIsUtf8);
        Assert.Same(first.Argument, second.Argument);
    }
}
