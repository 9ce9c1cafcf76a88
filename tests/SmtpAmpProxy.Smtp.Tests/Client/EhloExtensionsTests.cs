using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Tests.Client;

public sealed class EhloExtensionsTests
{
    [Fact]
    public void Parse_SendGridLikeReply_KeywordsUpperCaseWithParameters()
    {
        var reply = new SmtpReply(250, "", "smtp.sendgrid.net\n8BITMIME\nPIPELINING\nSIZE 31457280\nSTARTTLS\nauth plain login\nAUTH=PLAIN LOGIN");

        EhloExtensions extensions = EhloExtensions.Parse(reply);

        Assert.Equal(["8BITMIME", "AUTH", "PIPELINING", "SIZE", "STARTTLS"], extensions.Keywords.Order());
        Assert.Equal("31457280", extensions.Parameters("SIZE"));
        Assert.True(extensions.HasAuthMechanism("PLAIN"));
        Assert.True(extensions.HasAuthMechanism("login"));
        Assert.False(extensions.HasAuthMechanism("CRAM-MD5"));
        Assert.False(extensions.Has("smtp.sendgrid.net"));
    }

    [Fact]
    public void Parse_GreetingOnly_NoExtensions()
    {
        Assert.Empty(EhloExtensions.Parse(new SmtpReply(250, "", "mx.example")).Keywords);
    }
}
