using SmtpAmpProxy.Dkim;
using static SmtpAmpProxy.Tests.Dkim.DkimTestSupport;

namespace SmtpAmpProxy.Tests.Dkim;

public sealed class FromDomainTests
{
    [Theory]
    [InlineData("sender@Example.COM", "example.com")]
    [InlineData("Sender <sender@example.com>", "example.com")]
    [InlineData("\"Doe, John (CEO)\" <john@corp.example>", "corp.example")]
    [InlineData("\"fake@evil.example\" <real@good.example>", "good.example")]
    [InlineData("fake@evil.example <real@good.example>", "good.example")]
    [InlineData("first@one.example, second@two.example", "one.example")]
    [InlineData("a@one.example (comment with <x@y.example>)", "one.example")]
    [InlineData("(leading comment) Name <a@one.example>", "one.example")]
    [InlineData("\"quoted@local\"@one.example", "one.example")]
    [InlineData("Team: a@team.example, b@other.example;", "team.example")]
    [InlineData("=?utf-8?q?J=C3=BCrgen?= <j@umlaut.example>", "umlaut.example")]
    [InlineData("undisclosed-recipients:;", null)]
    [InlineData("no address here", null)]
    public void Parse_FromValue_ReturnsDomainOfFirstAddress(string value, string? expected)
    {
        Assert.Equal(expected, FromDomain.Parse(value));
    }

    [Fact]
    public void Find_FoldedFromField_ReadsAcrossLines()
    {
        var headers = HeaderBlock.Read(One(Ascii("Subject: x\r\nFrom: \"A very long\r\n display name\"\r\n <someone@folded.example>\r\n\r\nbody\r\n")));

        Assert.Equal("folded.example", FromDomain.Find(headers));
    }

    [Fact]
    public void Find_NoFromField_ReturnsNull()
    {
        Assert.Null(FromDomain.Find(HeaderBlock.Read(One(Ascii("Subject: x\r\n\r\n")))));
    }
}
