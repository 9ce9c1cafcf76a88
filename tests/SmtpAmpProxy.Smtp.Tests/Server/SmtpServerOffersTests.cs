using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>EHLO and HELP offer only what this session may use; a sender using SMTPUTF8 where it was not offered hears 553 5.6.7 at MAIL.</summary>
public sealed class SmtpServerOffersTests
{
    [Fact]
    public async Task Ehlo_HandlerCannotCarrySmtpUtf8_NotOfferedInEhloOrHelp()
    {
        await using var host = await ServerTestHost.StartAsync();
        host.Handlers.OffersSmtpUtf8 = false;
        await using var client = await host.ConnectAsync();

        Assert.Equal("250-test.local\n250-PIPELINING\n250-SIZE 20971520\n250-8BITMIME\n250 ENHANCEDSTATUSCODES", await client.CommandAsync("EHLO client.test"));
        Assert.Equal("214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\n214 2.0.0 Extensions: PIPELINING SIZE 8BITMIME ENHANCEDSTATUSCODES",
            await client.CommandAsync("HELP"));
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b.test> SMTPUTF8")]
    [InlineData("MAIL FROM:<ü@b.test> SMTPUTF8")]
    [InlineData("MAIL FROM:<ü@b.test>")]
    public async Task Mail_Utf8WhereNotOffered_Gets553_5_6_7AndNeverReachesHandler(string line)
    {
        await using var host = await ServerTestHost.StartAsync();
        host.Handlers.OffersSmtpUtf8 = false;
        await using var client = await host.ConnectEhloAsync();

        Assert.Equal("553 5.6.7 Error: SMTPUTF8 is not offered here; non-ASCII addresses are not permitted", await client.CommandAsync(line));
        Assert.Empty(host.Handlers.Calls);

        // The session goes on: an ASCII transaction is taken as usual.
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<a@b.test>"));
        Assert.Equal("553 5.6.7 Error: UTF-8 address needs the SMTPUTF8 parameter", await client.CommandAsync("RCPT TO:<δ@b.test>"));
    }

    [Fact]
    public async Task Mail_Utf8WhereNotOffered_PipelinedWithRcptAndData_OneRefusalEachAndNoBodyRead()
    {
        await using var host = await ServerTestHost.StartAsync();
        host.Handlers.OffersSmtpUtf8 = false;
        await using var client = await host.ConnectEhloAsync();

        // RFC 2920: a pipelining client sends the body only after a 354, so the refused DATA ends the group.
        await client.SendAsync("MAIL FROM:<ü@b.test> SMTPUTF8\r\nRCPT TO:<δ@b.test>\r\nDATA\r\n");

        Assert.StartsWith("553 5.6.7 ", await client.ReadReplyAsync());
        Assert.StartsWith("503 ", await client.ReadReplyAsync());
        Assert.StartsWith("503 ", await client.ReadReplyAsync());
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
        Assert.Empty(host.Handlers.Calls);
    }

    [Fact]
    public async Task Mail_SmtpUtf8AfterHelo_Gets553_5_6_7()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.StartsWith("250", await client.CommandAsync("HELO client.test"));

        Assert.StartsWith("553 5.6.7", await client.CommandAsync("MAIL FROM:<a@b.test> SMTPUTF8"));
        Assert.Empty(host.Handlers.Calls);
    }

    [Fact]
    public async Task Ehlo_OfferWithdrawnBetweenEhlos_EachEhloSaysWhatItsMailGets()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();

        Assert.Contains("250-SMTPUTF8", await client.CommandAsync("EHLO client.test"));
        host.Handlers.OffersSmtpUtf8 = false;

        // What the last EHLO offered holds until the next EHLO, whatever the handler says meanwhile.
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<ü@b.test> SMTPUTF8"));
        Assert.DoesNotContain("SMTPUTF8", await client.CommandAsync("EHLO client.test"));
        Assert.StartsWith("553 5.6.7", await client.CommandAsync("MAIL FROM:<ü@b.test> SMTPUTF8"));
    }

    [Fact]
    public async Task Help_PlaintextAuthAllowedWithoutCertificate_ListsAuthNotStartTls()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with
        {
            Authenticator = new ServerTestAuthenticator("alice", "s3cret"),
            AllowAuthWithoutTls = true,
        });
        await using var client = await host.ConnectEhloAsync();

        var help = await client.CommandAsync("HELP");
        Assert.Contains("HELP AUTH\n", help);
        Assert.DoesNotContain("STARTTLS", help);
    }
}
