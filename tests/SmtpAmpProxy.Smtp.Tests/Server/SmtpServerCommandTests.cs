using System.Text;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

public sealed class SmtpServerCommandTests
{
    [Fact]
    public async Task Greeting_OnConnect_Is220WithServerName()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await ServerTestClient.ConnectAsync(host.EndPoint);
        Assert.Equal("220 test.local ESMTP", await client.ReadReplyAsync());
    }

    [Fact]
    public async Task Ehlo_WithoutCertificateOrAuth_AdvertisesCoreExtensionsOnly()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        var reply = await client.CommandAsync("EHLO client.test");
        Assert.Equal("250-test.local\n250-PIPELINING\n250-SIZE 20971520\n250-8BITMIME\n250-SMTPUTF8\n250 ENHANCEDSTATUSCODES", reply);
    }

    [Fact]
    public async Task Ehlo_WithCertificateAndAuthenticatorBeforeTls_OffersStartTlsButNotAuth()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with
        {
            Certificate = ServerTestCertificate.Instance,
            Authenticator = new ServerTestAuthenticator("u", "p"),
        });
        await using var client = await host.ConnectAsync();
        var reply = await client.CommandAsync("EHLO client.test");
        Assert.Contains("\n250 STARTTLS", reply);
        Assert.DoesNotContain("AUTH", reply);
    }

    [Fact]
    public async Task Ehlo_WithAuthAllowedWithoutTls_OffersAuthPlainLogin()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with
        {
            Authenticator = new ServerTestAuthenticator("u", "p"),
            AllowAuthWithoutTls = true,
        });
        await using var client = await host.ConnectAsync();
        Assert.EndsWith("250 AUTH PLAIN LOGIN", await client.CommandAsync("EHLO client.test"));
    }

    [Fact]
    public async Task Helo_Valid_Replies250AndRecordsName()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.Equal("250 test.local", await client.CommandAsync("HELO client.test"));
        Assert.Equal("client.test", host.Handlers.Sessions.Single().HeloName);
    }

    [Theory]
    [InlineData("EHLO", "501 5.5.4 Syntax: EHLO hostname")]
    [InlineData("HELO", "501 5.5.4 Syntax: HELO hostname")]
    [InlineData("EHLO a b", "501 5.5.4 Syntax: EHLO hostname")]
    [InlineData("EHLO a\0b", "501 5.5.4 Syntax: EHLO hostname")]
    [InlineData("EHLO a\rb", "501 5.5.4 Syntax: EHLO hostname")]
    public async Task Ehlo_BadName_Replies501AndKeepsNoName(string line, string expected)
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.Equal(expected, await client.CommandAsync(line));
        Assert.Null(host.Handlers.Sessions.Single().HeloName);
    }

    [Theory]
    [InlineData("NOOP", "250 2.0.0 Ok")]
    [InlineData("noop anything", "250 2.0.0 Ok")]
    [InlineData("RSET", "250 2.0.0 Ok")]
    [InlineData("VRFY postmaster", "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery")]
    [InlineData("VRFY", "501 5.5.4 Syntax: VRFY address")]
    [InlineData("HELP", "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\n214 2.0.0 Extensions: PIPELINING SIZE 8BITMIME SMTPUTF8 ENHANCEDSTATUSCODES")]
    [InlineData("XYZZY", "500 5.5.2 Error: command not recognized")]
    [InlineData("RSET now", "501 5.5.4 Syntax: RSET")]
    [InlineData("STARTTLS", "502 5.5.1 Error: command not implemented")]
    [InlineData("AUTH PLAIN", "503 5.5.1 Error: authentication not enabled")]
    public async Task SimpleCommand_AfterEhlo_GivesExpectedReply(string line, string expected)
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal(expected, await client.CommandAsync(line));
    }

    [Fact]
    public async Task Quit_Replies221AndCloses()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.Equal("221 2.0.0 Bye", await client.CommandAsync("QUIT"));
        Assert.True(await client.WaitClosedAsync());
        await ServerTestHost.WaitUntilAsync(() => host.Handlers.Disposed == 1, "the handler is disposed");
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b.test>", "503 5.5.1 Error: send HELO/EHLO first")]
    [InlineData("RCPT TO:<a@b.test>", "503 5.5.1 Error: send HELO/EHLO first")]
    [InlineData("DATA", "503 5.5.1 Error: send HELO/EHLO first")]
    public async Task TransactionCommand_BeforeEhlo_Replies503(string line, string expected)
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.Equal(expected, await client.CommandAsync(line));
        Assert.Empty(host.Handlers.Calls);
    }

    [Fact]
    public async Task Sequence_OutOfOrder_Replies503WithWhatIsNeeded()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("503 5.5.1 Error: need MAIL command", await client.CommandAsync("RCPT TO:<a@b.test>"));
        Assert.Equal("503 5.5.1 Error: need RCPT command", await client.CommandAsync("DATA"));
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        Assert.Equal("503 5.5.1 Error: nested MAIL command", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        Assert.Equal("503 5.5.1 Error: need RCPT command", await client.CommandAsync("DATA"));
    }

    [Fact]
    public async Task Transaction_Complete_HandlerGetsMessageWithCrlfLines()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<sender@example.test> SIZE=100 BODY=8BITMIME"));
        Assert.Equal("250 2.1.5 Ok", await client.CommandAsync("RCPT TO:<rcpt@example.test>"));
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await client.CommandAsync("DATA"));
        Assert.Equal("250 2.0.0 Ok: queued as TEST", await client.CommandAsync("Subject: hi\r\n\r\n..dot\r\nbody\r\n."));
        var message = Assert.Single(host.Handlers.Messages);
        Assert.Equal("sender@example.test", message.From);
        Assert.Equal(["rcpt@example.test"], message.To);
        Assert.Equal("Subject: hi\r\n\r\n.dot\r\nbody\r\n", Encoding.ASCII.GetString(message.Data));
        Assert.Contains("MAIL sender@example.test SIZE=100 BODY=8BITMIME", host.Handlers.Calls);
    }

    [Fact]
    public async Task Mail_NullReversePath_IsAcceptedAsEmptyString()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<>"));
        Assert.Equal("MAIL", Assert.Single(host.Handlers.Calls));
    }

    [Theory]
    [InlineData("MAIL FROM:a@b.test", "501 5.5.4 Syntax: MAIL FROM:<address>")]
    [InlineData("MAIL TO:<a@b.test>", "501 5.5.4 Syntax: MAIL FROM:<address>")]
    [InlineData("MAIL FROM:<a@@b.test>", "501 5.1.7 Bad sender address syntax")]
    [InlineData("MAIL FROM:<a\0@b.test>", "501 5.1.7 Bad sender address syntax")]
    [InlineData("MAIL FROM:<a\r@b.test>", "501 5.1.7 Bad sender address syntax")]
    [InlineData("MAIL FROM:<a@b.test> SIZE=x", "501 5.5.4 Bad message size syntax")]
    [InlineData("MAIL FROM:<a@b.test> BODY=BINARYMIME", "501 5.5.4 Bad BODY parameter: use 7BIT or 8BITMIME")]
    [InlineData("MAIL FROM:<a@b.test> FOO=1", "555 5.5.4 Unsupported option: FOO")]
    [InlineData("MAIL FROM:<a@b.test> X=\u0001", "501 5.5.4 Bad parameter syntax")]
    [InlineData("MAIL FROM:<a@b.test> SIZE=20971521", "552 5.3.4 Message size exceeds fixed limit")]
    [InlineData("MAIL FROM:<ü@b.test>", "553 5.6.7 Error: UTF-8 address needs the SMTPUTF8 parameter")]
    public async Task Mail_Invalid_IsRefusedAndNeverReachesHandler(string line, string expected)
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal(expected, await client.CommandAsync(line));
        Assert.Empty(host.Handlers.Calls);
    }

    [Fact]
    public async Task Mail_Utf8WithSmtpUtf8_IsPassedOn()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<ü@b.test> SMTPUTF8"));
        Assert.Equal("250 2.1.5 Ok", await client.CommandAsync("RCPT TO:<δ@b.test>"));
        Assert.Equal(["MAIL ü@b.test SMTPUTF8", "RCPT δ@b.test"], host.Handlers.Calls);
    }

    [Theory]
    [InlineData("RCPT TO:<>", "501 5.1.3 Bad recipient address syntax")]
    [InlineData("RCPT TO:<a b@c.test>", "501 5.1.3 Bad recipient address syntax")]
    [InlineData("RCPT TO:<a@b.test\r>", "501 5.1.3 Bad recipient address syntax")]
    [InlineData("RCPT TO:<a@b.test\n>", "501 5.5.4 Syntax: RCPT TO:<address>")]
    [InlineData("RCPT FROM:<a@b.test>", "501 5.5.4 Syntax: RCPT TO:<address>")]
    [InlineData("RCPT TO:<a@b.test> NOTIFY=NEVER", "555 5.5.4 Unsupported option: NOTIFY")]
    public async Task Rcpt_Invalid_IsRefused(string line, string expected)
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        // A LF inside the path ends the line early: the first half lacks its '>', the rest is another line.
        var reply = await client.CommandAsync(line);
        Assert.Equal(expected, reply);
        Assert.DoesNotContain(host.Handlers.Calls, c => c.StartsWith("RCPT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rcpt_Postmaster_WithoutDomain_IsAccepted()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        Assert.Equal("250 2.1.5 Ok", await client.CommandAsync("RCPT TO:<Postmaster>"));
    }

    [Fact]
    public async Task Rcpt_SourceRoute_IsAcceptedAndIgnored()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        Assert.Equal("250 2.1.5 Ok", await client.CommandAsync("RCPT TO:<@relay.test,@other.test:user@b.test>"));
        Assert.Contains("RCPT user@b.test", host.Handlers.Calls);
    }

    [Fact]
    public async Task Rcpt_HandlerRefusesAll_DataGetsNoValidRecipients()
    {
        await using var host = await ServerTestHost.StartAsync();
        host.Handlers.OnRcpt = _ => new SmtpReply(550, "5.1.1", "User unknown");
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        Assert.Equal("550 5.1.1 User unknown", await client.CommandAsync("RCPT TO:<x@b.test>"));
        Assert.Equal("554 5.5.1 Error: no valid recipients", await client.CommandAsync("DATA"));
    }

    [Fact]
    public async Task Rset_InTransaction_ResetsHandlerAndAllowsNewMail()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("RSET"));
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<t@b.test>"));
        Assert.Equal(["MAIL s@b.test", "RESET", "MAIL t@b.test"], host.Handlers.Calls);
    }

    [Fact]
    public async Task Ehlo_InTransaction_AbandonsTransaction()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        await client.CommandAsync("EHLO again.test");
        Assert.Equal("503 5.5.1 Error: need MAIL command", await client.CommandAsync("RCPT TO:<a@b.test>"));
        Assert.Equal(["MAIL s@b.test", "RESET"], host.Handlers.Calls);
    }

    [Fact]
    public async Task HandlerReply_WithCrLfInText_IsSanitisedToOneLine()
    {
        await using var host = await ServerTestHost.StartAsync();
        host.Handlers.OnMail = _ => new SmtpReply(550, "5.7.1", "no\r250 forged");
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("550 5.7.1 no?250 forged", await client.CommandAsync("MAIL FROM:<s@b.test>"));
    }

    [Theory]
    [InlineData("ſTARTTLS")]
    [InlineData("EHLO\u212A")]
    [InlineData("MAİL FROM:<a@b.test>")]
    [InlineData("QUİT")]
    public async Task Verb_WithUnicodeLookalike_IsUnknownCommand(string line)
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("500 5.5.2 Error: command not recognized", await client.CommandAsync(line));
    }

    [Fact]
    public async Task Verb_MixedCase_IsRecognised()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.StartsWith("250-test.local", await client.CommandAsync("eHlO client.test"));
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("mail from:<a@b.test>"));
    }

    [Fact]
    public async Task Data_HandlerRefusesAtStart_NoIntermediateReplyAndTransactionStaysOpen()
    {
        await using var host = await ServerTestHost.StartAsync();
        var refuse = true;
        host.Handlers.OnDataStart = () => refuse ? new SmtpReply(451, "4.4.2", "Upstream relay connection lost, try again later") : null;
        await using var client = await host.ConnectEhloAsync();
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@example.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<b@example.test>"));

        Assert.Equal("451 4.4.2 Upstream relay connection lost, try again later", await client.CommandAsync("DATA"));

        // No 354 was sent, so the next line is a command again, and DATA may be tried once more.
        refuse = false;
        Assert.StartsWith("250", await client.CommandAsync("NOOP"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        Assert.StartsWith("250", await client.CommandAsync("Subject: x\r\n\r\nbody\r\n."));
        Assert.Equal(["DATA-START", "DATA-START"], host.Handlers.Calls.Where(c => c == "DATA-START"));
        Assert.Single(host.Handlers.Messages);
    }
}
