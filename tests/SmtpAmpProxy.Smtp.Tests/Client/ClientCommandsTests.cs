using System.Text;
using SmtpAmpProxy.Smtp.Client;

namespace SmtpAmpProxy.Smtp.Tests.Client;

public sealed class ClientCommandsTests
{
    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    [Theory]
    [InlineData("a@example.com", null, "MAIL FROM:<a@example.com>\r\n")]
    [InlineData("<a@example.com>", "BODY=8BITMIME SIZE=1000", "MAIL FROM:<a@example.com> BODY=8BITMIME SIZE=1000\r\n")]
    [InlineData("", null, "MAIL FROM:<>\r\n")]
    [InlineData("<>", "", "MAIL FROM:<>\r\n")]
    public void Mail_BuildsExactLine(string path, string? parameters, string expected)
    {
        Assert.Equal(expected, Text(ClientCommands.Mail(path, parameters)));
    }

    [Fact]
    public void Rcpt_WithParameters_BuildsExactLine()
    {
        Assert.Equal("RCPT TO:<b@example.org> NOTIFY=NEVER\r\n", Text(ClientCommands.Rcpt("b@example.org", "NOTIFY=NEVER")));
    }

    [Fact]
    public void Rcpt_Utf8Address_EncodedAsUtf8()
    {
        Assert.Equal("RCPT TO:<jörg@例え.jp>\r\n"u8.ToArray(), ClientCommands.Rcpt("jörg@例え.jp", null));
    }

    [Theory]
    [InlineData("a@example.com>\r\nRCPT TO:<victim@example.com")]
    [InlineData("a@example.com\n")]
    [InlineData("a@exa\0mple.com")]
    public void Mail_ControlCharacterInPath_Refused(string path)
    {
        Assert.Throws<ArgumentException>(() => ClientCommands.Mail(path, null));
    }

    [Fact]
    public void Mail_CrLfInParameters_Refused()
    {
        Assert.Throws<ArgumentException>(() => ClientCommands.Mail("a@b", "SIZE=1\r\nRSET"));
    }

    [Fact]
    public void Ehlo_BuildsLine_AndRefusesSpaces()
    {
        Assert.Equal("EHLO relay.example\r\n", Text(ClientCommands.Ehlo("relay.example")));
        Assert.Equal("HELO relay.example\r\n", Text(ClientCommands.Helo("relay.example")));
        Assert.Throws<ArgumentException>(() => ClientCommands.Ehlo("relay example"));
    }

    [Fact]
    public void AuthPlain_EncodesNulUserNulPassword()
    {
        // RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd.
        Assert.Equal("AUTH PLAIN AGFwaWtleQBTRy5zZWNyZXQ=\r\n", Text(ClientCommands.AuthPlain("apikey", "SG.secret")));
    }

    [Fact]
    public void Base64Line_EncodesUtf8()
    {
        Assert.Equal("YXBpa2V5\r\n", Text(ClientCommands.Base64Line("apikey")));
    }

    [Fact]
    public void FixedCommands_AreExact()
    {
        Assert.Equal("DATA\r\n", Text(ClientCommands.Data));
        Assert.Equal("RSET\r\n", Text(ClientCommands.Rset));
        Assert.Equal("QUIT\r\n", Text(ClientCommands.Quit));
        Assert.Equal("STARTTLS\r\n", Text(ClientCommands.StartTls));
        Assert.Equal("NOOP\r\n", Text(ClientCommands.Noop));
    }
}
