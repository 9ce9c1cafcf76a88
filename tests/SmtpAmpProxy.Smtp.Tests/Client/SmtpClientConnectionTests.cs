using System.Text;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Client;

public sealed class SmtpClientConnectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IReadOnlyList<ReadOnlyMemory<byte>> Content(params string[] segments) =>
        segments.Select(s => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(s)).ToArray();

    [Fact]
    public async Task Connect_421Greeting_ThrowsGreetingFailureCarryingReply()
    {
        await using var server = new ClientScriptedServer(async s => await s.SendAsync("421 4.3.2 Service not available\r\n"));

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(server.Options(), Ct));

        Assert.Equal(SmtpFailureStage.Greeting, e.Stage);
        Assert.False(e.IsTimeout);
        Assert.Equal(421, e.Reply?.Code);
        Assert.Equal("4.3.2", e.Reply?.EnhancedCode);
    }

    [Fact]
    public async Task Connect_NothingListening_ThrowsConnectFailure()
    {
        int port = ClientScriptedServer.FreePort();
        var options = new SmtpClientOptions { Host = "127.0.0.1", Port = port, Tls = TlsMode.None };

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(options, Ct));

        Assert.Equal(SmtpFailureStage.Connect, e.Stage);
    }

    [Fact]
    public async Task Connect_EhloRefused_FallsBackToHeloWithoutExtensions()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.SendAsync("220 old.test\r\n");
            await s.ExpectAsync("EHLO smtp-amp-proxy.local");
            await s.SendAsync("502 5.5.2 Command not recognized\r\n");
            await s.ExpectAsync("HELO smtp-amp-proxy.local");
            await s.SendAsync("250 old.test\r\n");
            await s.AcceptAllAsync();
        });

        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        Assert.Empty(connection.Extensions);
        Assert.Equal(250, (await connection.MailAsync("a@example.com", null, Ct)).Code);
    }

    [Fact]
    public async Task Connect_GreetingSplitByteByByte_Parsed()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            foreach (char c in "220-upstream.test\r\n220 ready\r\n")
            {
                await s.SendAsync(c.ToString());
            }

            await s.EhloAsync("PIPELINING", "8BITMIME");
            await s.AcceptAllAsync();
        });

        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        Assert.Contains("PIPELINING", connection.Extensions);
        Assert.Contains("8BITMIME", connection.Extensions);
    }

    [Fact]
    public async Task Connect_GarbageGreeting_ThrowsGreetingFailure()
    {
        await using var server = new ClientScriptedServer(async s => await s.SendAsync("HTTP/1.1 400 Bad Request\r\n\r\n"));

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(server.Options(), Ct));

        Assert.Equal(SmtpFailureStage.Greeting, e.Stage);
        Assert.Null(e.Reply);
    }

    [Fact]
    public async Task Connect_StartTlsRequiredButNotOffered_ThrowsTlsFailureAndSendsNoCredentials()
    {
        var sent = new TaskCompletionSource<byte[]>();
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("PIPELINING", "AUTH PLAIN LOGIN");
            await s.WaitForCloseAsync();
            sent.TrySetResult(s.Received);
        });
        SmtpClientOptions options = server.Options(TlsMode.StartTls) with { Username = "apikey", Password = "SG.secret" };

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(options, Ct));

        Assert.Equal(SmtpFailureStage.Tls, e.Stage);
        string received = Encoding.ASCII.GetString(await sent.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct));
        Assert.DoesNotContain("AUTH", received);
    }

    [Fact]
    public async Task Connect_AuthRefused_ThrowsAuthFailureCarryingReply()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("AUTH PLAIN LOGIN");
            await s.ExpectAsync("AUTH PLAIN ");
            await s.SendAsync("535 5.7.8 Authentication credentials invalid\r\n");
            await s.WaitForCloseAsync();
        });
        SmtpClientOptions options = server.Options() with { Username = "apikey", Password = "wrong" };

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(options, Ct));

        Assert.Equal(SmtpFailureStage.Auth, e.Stage);
        Assert.Equal(535, e.Reply?.Code);
        Assert.DoesNotContain("wrong", e.Message);
    }

    [Fact]
    public async Task Connect_AuthPlain_SendsExactInitialResponse()
    {
        string? authLine = null;
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("AUTH LOGIN PLAIN", "PIPELINING");
            authLine = await s.ExpectAsync("AUTH ");
            await s.SendAsync("235 2.7.0 Authentication successful\r\n");
            await s.AcceptAllAsync();
        });
        SmtpClientOptions options = server.Options() with { Username = "apikey", Password = "SG.abc.def" };

        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, Ct);
        await connection.QuitAsync(Ct);
        await server.WaitForSessionsAsync();

        Assert.Equal("AUTH PLAIN " + Convert.ToBase64String("\0apikey\0SG.abc.def"u8.ToArray()), authLine);
    }

    [Fact]
    public async Task Connect_TraceTranscript_RedactsCredentials()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("AUTH LOGIN");
            await s.ExpectAsync("AUTH LOGIN");
            await s.SendAsync("334 VXNlcm5hbWU6\r\n");
            await s.ReadLineAsync();
            await s.SendAsync("334 UGFzc3dvcmQ6\r\n");
            await s.ReadLineAsync();
            await s.SendAsync("235 2.7.0 ok\r\n");
            await s.AcceptAllAsync();
        });
        var logger = new ClientListLogger();
        SmtpClientOptions options = server.Options() with { Username = "apikey", Password = "SG.topsecret" };

        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, logger, Ct);
        await connection.QuitAsync(Ct);

        string log = string.Join("\n", logger.Lines);
        Assert.Contains("C: AUTH LOGIN", log);
        Assert.Contains("C: <redacted>", log);
        Assert.DoesNotContain("SG.topsecret", log);
        Assert.DoesNotContain(Convert.ToBase64String("SG.topsecret"u8.ToArray()), log);
        Assert.DoesNotContain("YXBpa2V5", log);
        Assert.DoesNotContain("SG.topsecret", options.ToString());
    }

    [Fact]
    public async Task Connect_OnlyAuthLogin_SendsUserThenPassword()
    {
        var lines = new List<string>();
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("AUTH LOGIN");
            lines.Add(await s.ExpectAsync("AUTH LOGIN"));
            await s.SendAsync("334 VXNlcm5hbWU6\r\n");
            lines.Add((await s.ReadLineAsync())!);
            await s.SendAsync("334 UGFzc3dvcmQ6\r\n");
            lines.Add((await s.ReadLineAsync())!);
            await s.SendAsync("235 2.7.0 ok\r\n");
            await s.AcceptAllAsync();
        });
        SmtpClientOptions options = server.Options() with { Username = "apikey", Password = "pw" };

        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, Ct);
        await connection.QuitAsync(Ct);
        await server.WaitForSessionsAsync();

        Assert.Equal(["AUTH LOGIN", "YXBpa2V5", "cHc="], lines);
    }

    [Fact]
    public async Task Rcpt_550ForOneRecipient_ReturnsReplyAndConnectionStaysUsable()
    {
        var messages = new List<byte[]>();
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("8BITMIME");
            await s.ExpectAsync("MAIL FROM:<a@example.com>");
            await s.SendAsync("250 2.1.0 Ok\r\n");
            await s.ExpectAsync("RCPT TO:<bad@example.com>");
            await s.SendAsync("550 5.1.1 <bad@example.com>: Recipient address rejected\r\n");
            await s.ExpectAsync("RCPT TO:<good@example.com>");
            await s.SendAsync("250 2.1.5 Ok\r\n");
            await s.AcceptAllAsync(messages);
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        await connection.MailAsync("a@example.com", null, Ct);
        SmtpReply bad = await connection.RcptAsync("bad@example.com", null, Ct);
        SmtpReply good = await connection.RcptAsync("good@example.com", null, Ct);
        SmtpReply data = await SendDataAsync(connection, Content("Subject: t\r\n\r\nhi\r\n"));

        Assert.Equal((550, "5.1.1"), (bad.Code, bad.EnhancedCode));
        Assert.True(bad.IsPermanentFailure);
        Assert.Equal(250, good.Code);
        Assert.Equal(250, data.Code);
        Assert.False(connection.IsBroken);
        Assert.Equal(1, connection.MessagesSent);
    }

    /// <summary>DATA written ahead: the refusal is read later, and still no content follows it.</summary>
    [Fact]
    public async Task Data_452AtData_ReturnedAsReplyAndNoContentFollows()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAndAcceptEnvelopeAsync();
            await s.ExpectAsync("DATA");
            await s.SendAsync("452 4.3.1 Insufficient system storage\r\n");

            // Content sent without a 354 would arrive here instead of the RSET.
            await s.ExpectAsync("RSET");
            await s.SendAsync("250 2.0.0 Ok\r\n");
            await s.AcceptAllAsync();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);
        await connection.MailAsync("a@example.com", null, Ct);
        await connection.RcptAsync("b@example.com", null, Ct);

        SmtpReply data = await SendDataAsync(connection, Content("x\r\n"));

        Assert.Equal((452, "4.3.1"), (data.Code, data.EnhancedCode));
        Assert.False(connection.IsBroken);
        Assert.Equal(0, connection.MessagesSent);
        Assert.Equal(250, (await connection.RsetAsync(Ct)).Code);
    }

    [Fact]
    public async Task Data_DisconnectMidData_ThrowsDataFailureAndIsBroken()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAndAcceptEnvelopeAsync();
            await s.ExpectAsync("DATA");
            await s.SendAsync("354 go\r\n");
            await s.ReadLineAsync();
            s.Close();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);
        await connection.MailAsync("a@example.com", null, Ct);
        await connection.RcptAsync("b@example.com", null, Ct);
        byte[] big = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n", 200_000)));

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SendDataAsync(connection, [big]));

        Assert.Equal(SmtpFailureStage.Data, e.Stage);
        Assert.False(e.IsTimeout);
        Assert.True(connection.IsBroken);
        await Assert.ThrowsAsync<SmtpConnectionException>(() => connection.RsetAsync(Ct));
    }

    [Fact]
    public async Task Data_SilencePastDataTimeout_ThrowsTimeout()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAndAcceptEnvelopeAsync();
            await s.ExpectAsync("DATA");
            await s.SendAsync("354 go\r\n");
            await s.ReadDataAsync();
            await s.WaitForCloseAsync();
        });
        SmtpClientOptions options = server.Options() with { DataTimeout = TimeSpan.FromMilliseconds(200) };
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, Ct);
        await connection.MailAsync("a@example.com", null, Ct);
        await connection.RcptAsync("b@example.com", null, Ct);

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SendDataAsync(connection, Content("x\r\n")));

        Assert.True(e.IsTimeout);
        Assert.Equal(SmtpFailureStage.Data, e.Stage);
        Assert.True(connection.IsBroken);
    }

    [Fact]
    public async Task Mail_SilencePastCommandTimeout_ThrowsTimeout()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync();
            await s.WaitForCloseAsync();
        });
        SmtpClientOptions options = server.Options() with { CommandTimeout = TimeSpan.FromMilliseconds(200) };
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, Ct);

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => connection.MailAsync("a@example.com", null, Ct));

        Assert.True(e.IsTimeout);
        Assert.Equal(SmtpFailureStage.Command, e.Stage);
        Assert.True(connection.IsBroken);
    }

    [Fact]
    public async Task Connect_SilentGreeting_ThrowsGreetingTimeout()
    {
        await using var server = new ClientScriptedServer(s => s.WaitForCloseAsync());
        SmtpClientOptions options = server.Options() with { CommandTimeout = TimeSpan.FromMilliseconds(200) };

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(options, Ct));

        Assert.True(e.IsTimeout);
        Assert.Equal(SmtpFailureStage.Greeting, e.Stage);
    }

    [Fact]
    public async Task Rcpt_GarbageReply_ThrowsAndIsBroken()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync();
            await s.ExpectAsync("MAIL");
            await s.SendAsync("250 Ok\r\n");
            await s.ExpectAsync("RCPT");
            await s.SendAsync("+OK this is POP3\r\n");
            await s.WaitForCloseAsync();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);
        await connection.MailAsync("a@example.com", null, Ct);

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => connection.RcptAsync("b@example.com", null, Ct));

        Assert.Equal(SmtpFailureStage.Command, e.Stage);
        Assert.True(connection.IsBroken);
    }

    [Fact]
    public async Task Data_Content_SentDotStuffedCanonicalAndTerminated()
    {
        var messages = new List<byte[]>();
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync();
            await s.AcceptAllAsync(messages);
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);
        await connection.MailAsync("a@example.com", null, Ct);
        await connection.RcptAsync("b@example.com", null, Ct);

        SmtpReply reply = await SendDataAsync(connection, Content("Subject: dots\r\n\r\n.first\r\n", ".second\nbare\rcr\r\n", "."));
        await connection.QuitAsync(Ct);
        await server.WaitForSessionsAsync();

        Assert.Equal(250, reply.Code);
        Assert.Equal("Subject: dots\r\n\r\n..first\r\n..second\r\nbare\r\ncr\r\n..\r\n.\r\n", Encoding.ASCII.GetString(Assert.Single(messages)));
    }

    [Fact]
    public async Task SendEnvelope_PipeliningWithData_OneWriteForEnvelopeAndRepliesInOrder()
    {
        var messages = new List<byte[]>();
        int envelopeLines = 0;
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("PIPELINING");

            // Every command of the envelope is already here before the first reply is sent.
            await s.ExpectAsync("MAIL FROM:<a@example.com> BODY=8BITMIME");
            await s.ExpectAsync("RCPT TO:<one@example.com>");
            await s.ExpectAsync("RCPT TO:<two@example.com>");
            await s.ExpectAsync("DATA");
            envelopeLines = 4;
            await s.SendAsync("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n354 go\r\n");
            messages.Add(await s.ReadDataAsync());
            await s.SendAsync("250 2.0.0 Ok: queued as ABC\r\n");
            await s.AcceptAllAsync();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        SmtpEnvelopeReplies replies = await connection.SendEnvelopeAsync(
            "a@example.com", "BODY=8BITMIME", [new("one@example.com"), new("two@example.com")], withData: true, Ct);
        Assert.Equal(354, replies.Data?.Code);
        SmtpReply final = await connection.SendContentAsync(Content("hi\r\n"), Ct);

        Assert.Equal(4, envelopeLines);
        Assert.Equal(250, replies.Mail.Code);
        Assert.Equal([250, 550], replies.Rcpts.Select(r => r.Code));
        Assert.Equal("Ok: queued as ABC", final.Text);
        Assert.Equal("hi\r\n.\r\n", Encoding.ASCII.GetString(Assert.Single(messages)));
        Assert.Equal(1, connection.MessagesSent);
    }

    /// <summary>An upstream that answers DATA with 354 and, in the same packet, 250: read on, the 250 would answer the content.</summary>
    [Fact]
    public async Task ReadDataReply_250WaitingBehind354_ThrowsProtocolViolationBeforeAnyContent()
    {
        string? afterData = null;
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAndAcceptEnvelopeAsync();
            await s.ExpectAsync("DATA");
            await s.SendAsync("354 go\r\n250 2.0.0 Ok: queued early\r\n");
            afterData = await s.ReadLineAsync();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);
        await connection.MailAsync("a@example.com", null, Ct);
        await connection.RcptAsync("b@example.com", null, Ct);
        await connection.WriteDataAsync(Ct);

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => connection.ReadDataReplyAsync(Ct));
        await connection.DisposeAsync();
        await server.WaitForSessionsAsync();

        Assert.True(e.IsProtocolViolation);
        Assert.True(connection.IsBroken);
        Assert.Null(afterData);
    }

    [Fact]
    public async Task Connect_BytesWaitingAfterGreeting_ThrowsProtocolViolation()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.SendAsync("220 upstream ESMTP\r\n250 ahead of EHLO\r\n");
            await s.WaitForCloseAsync();
        });

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(server.Options(), Ct));

        Assert.True(e.IsProtocolViolation);
        Assert.Equal(SmtpFailureStage.Greeting, e.Stage);
    }

    [Fact]
    public async Task Rcpt_SecondReplyWaitingBehindTheFirst_ThrowsProtocolViolation()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync();
            await s.ExpectAsync("MAIL");
            await s.SendAsync("250 Ok\r\n");
            await s.ExpectAsync("RCPT");
            await s.SendAsync("550 5.1.1 no\r\n250 2.1.5 meant for the next one\r\n");
            await s.WaitForCloseAsync();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);
        await connection.MailAsync("a@example.com", null, Ct);

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => connection.RcptAsync("b@example.com", null, Ct));

        Assert.True(e.IsProtocolViolation);
        Assert.True(connection.IsBroken);
    }

    [Fact]
    public async Task SendEnvelope_NoPipeliningMailRefused_StopsAfterMail()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync();
            await s.ExpectAsync("MAIL");
            await s.SendAsync("550 5.7.1 Sender blocked\r\n");
            await s.ExpectAsync("QUIT");
            await s.SendAsync("221 Bye\r\n");
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        SmtpEnvelopeReplies replies = await connection.SendEnvelopeAsync("a@example.com", null, [new("b@example.com")], withData: true, Ct);
        await connection.QuitAsync(Ct);
        await server.WaitForSessionsAsync();

        Assert.Equal(550, replies.Mail.Code);
        Assert.Empty(replies.Rcpts);
        Assert.Null(replies.Data);
        Assert.Empty(server.Errors);
    }

    [Fact]
    public async Task SendEnvelope_PipeliningMailRefused_NoRcptReplyAndNoTransaction()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("PIPELINING");
            await s.ExpectAsync("MAIL");
            await s.ExpectAsync("RCPT");
            await s.SendAsync("550 5.7.1 Sender blocked\r\n503 5.5.1 Error: need MAIL command\r\n");
            await s.AcceptAllAsync();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        SmtpEnvelopeReplies replies = await connection.SendEnvelopeAsync("s@x", null, [new("a@x")], withData: false, Ct);

        // The 503 to the pipelined RCPT says nothing about the recipient: no reply is given for it.
        Assert.Equal("Sender blocked", replies.Mail.Text);
        Assert.Empty(replies.Rcpts);
        Assert.False(connection.IsBroken);
    }

    [Fact]
    public async Task WriteData_ThenReadDataReply_Reads354ThenSendsContent()
    {
        var messages = new List<byte[]>();
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAndAcceptEnvelopeAsync();
            await s.ExpectAsync("DATA");
            await s.SendAsync("354 go\r\n");
            messages.Add(await s.ReadDataAsync());
            await s.SendAsync("250 2.0.0 Ok: queued as EARLY\r\n");
            await s.AcceptAllAsync();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);
        await connection.SendEnvelopeAsync("s@x", null, [new("a@x")], withData: false, Ct);

        await connection.WriteDataAsync(Ct);
        Assert.Equal(354, (await connection.ReadDataReplyAsync(Ct)).Code);
        SmtpReply reply = await connection.SendContentAsync(Content("early\r\n"), Ct);

        Assert.Equal("Ok: queued as EARLY", reply.Text);
        Assert.Equal("early\r\n.\r\n", Encoding.ASCII.GetString(Assert.Single(messages)));
    }

    [Fact]
    public async Task SendEnvelope_Pipelining_OneReplyPerRecipient()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("PIPELINING");
            await s.ExpectAsync("MAIL");
            await s.ExpectAsync("RCPT TO:<a@x> NOTIFY=NEVER");
            await s.ExpectAsync("RCPT TO:<b@x>");
            await s.SendAsync("250 Ok\r\n250 Ok\r\n452 4.5.3 Too many recipients\r\n");
            await s.AcceptAllAsync();
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        SmtpEnvelopeReplies replies = await connection.SendEnvelopeAsync("s@x", null, [new("a@x", "NOTIFY=NEVER"), new("b@x")], withData: false, Ct);

        Assert.Equal([250, 452], replies.Rcpts.Select(r => r.Code));
        Assert.Null(replies.Data);
    }

    [Fact]
    public async Task Mail_ReusedSessionClosedByUpstream_ThrowsWithoutReconnecting()
    {
        int session = 0;
        var messages = new List<byte[]>();
        await using var server = new ClientScriptedServer(async s =>
        {
            int mine = Interlocked.Increment(ref session);
            await s.GreetAsync();
            if (mine == 1)
            {
                await s.ExpectAsync("MAIL");
                await s.SendAsync("250 Ok\r\n");
                await s.ExpectAsync("RCPT");
                await s.SendAsync("250 Ok\r\n");
                await s.ExpectAsync("DATA");
                await s.SendAsync("354 go\r\n");
                messages.Add(await s.ReadDataAsync());
                await s.SendAsync("250 Ok\r\n");

                // The upstream restarts: this session ends without a word.
                return;
            }

            await s.AcceptAllAsync(messages);
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);
        Assert.Equal(354, (await connection.SendEnvelopeAsync("a@x", null, [new("b@x")], withData: true, Ct)).Data?.Code);
        Assert.Equal(250, (await connection.SendContentAsync(Content("one\r\n"), Ct)).Code);
        await server.WaitForSessionsAsync();

        // Reconnecting is the pool's job, in its rent path; replaying the envelope is the relay's.
        await Assert.ThrowsAsync<SmtpConnectionException>(() => connection.SendEnvelopeAsync("a@x", null, [new("b@x")], withData: true, Ct));

        Assert.Equal(1, server.Accepted);
        Assert.Equal(["one\r\n.\r\n"], messages.Select(m => Encoding.ASCII.GetString(m)));
        Assert.True(connection.IsBroken);
    }

    [Fact]
    public async Task Mail_FirstTransactionOnFreshSessionFails_NoReconnect()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync();
            await s.ExpectAsync("MAIL");
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        await Assert.ThrowsAsync<SmtpConnectionException>(() => connection.MailAsync("a@x", null, Ct));

        Assert.Equal(1, server.Accepted);
    }

    [Fact]
    public async Task Mail_Reply421_MarksConnectionBroken()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync();
            await s.ExpectAsync("MAIL");
            await s.SendAsync("421 4.4.2 Idle timeout, closing\r\n");
        });
        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        SmtpReply reply = await connection.MailAsync("a@x", null, Ct);

        Assert.Equal(421, reply.Code);
        Assert.True(connection.IsBroken);
    }

    [Fact]
    public async Task Mail_InjectionInPath_RefusedBeforeAnythingIsSent()
    {
        byte[]? received = null;
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync();
            await s.WaitForCloseAsync();
            received = s.Received;
        });
        SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(server.Options(), Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => connection.MailAsync("a@x>\r\nRCPT TO:<victim@x", null, Ct));
        await connection.DisposeAsync();
        await server.WaitForSessionsAsync();

        Assert.DoesNotContain("MAIL", Encoding.ASCII.GetString(received!));
    }

    /// <summary>DATA as the relay runs it: written, its reply read, then the content after a 354.</summary>
    private static async Task<SmtpReply> SendDataAsync(SmtpClientConnection connection, IReadOnlyList<ReadOnlyMemory<byte>> content)
    {
        await connection.WriteDataAsync(Ct);
        SmtpReply reply = await connection.ReadDataReplyAsync(Ct);
        return reply.Code == 354 ? await connection.SendContentAsync(content, Ct) : reply;
    }
}
