using System.Text;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>The server against SMTP clients we did not write: Python smtplib, swaks, Postfix smtp-source.</summary>
public sealed class SmtpServerInteropTests
{
    private const string Python = "/usr/bin/python3";
    private const string Swaks = "/usr/bin/swaks";
    private const string SmtpSource = "/usr/sbin/smtp-source";

    private static SmtpServerOptions WithTlsAndAuth(SmtpServerOptions o) => o with
    {
        Certificate = ServerTestCertificate.Instance,
        Authenticator = new ServerTestAuthenticator("alice", "s3cret"),
    };

    [Fact]
    public async Task PythonSmtplib_StartTlsAuthAndSend_DeliversMessagesIntact()
    {
        RequirePeer(Python);
        await using var host = await ServerTestHost.StartAsync(WithTlsAndAuth);
        const string script = """
            import smtplib, ssl, sys
            from email.message import EmailMessage
            port = int(sys.argv[1])
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
                s.ehlo("python.test")
                assert s.has_extn("starttls"), "no STARTTLS"
                assert s.has_extn("pipelining"), "no PIPELINING"
                s.starttls(context=context)
                s.ehlo("python.test")
                assert "PLAIN" in s.esmtp_features["auth"].upper()
                s.login("alice", "s3cret")
                for i in range(3):
                    m = EmailMessage()
                    m["From"] = "sender@example.test"
                    m["To"] = "rcpt@example.test"
                    m["Subject"] = f"message {i}"
                    m.set_content(f"line one\n.leading dot\n..two dots\nend {i}\n")
                    s.send_message(m)
            print("sent")
            """;
        var result = await ServerTestProcess.RunAsync(Python, ["-c", script, host.EndPoint.Port.ToString()]);
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Equal(3, host.Handlers.Messages.Count);
        foreach (var (message, i) in host.Handlers.Messages.Select((m, i) => (m, i)))
        {
            var text = Encoding.ASCII.GetString(message.Data);
            Assert.Contains($"Subject: message {i}\r\n", text);
            Assert.Contains("\r\nline one\r\n.leading dot\r\n..two dots\r\n", text);
            Assert.EndsWith($"end {i}\r\n", text);
            Assert.Equal(["rcpt@example.test"], message.To);
        }

        Assert.Equal("alice", host.Handlers.Sessions.Single().AuthenticatedUser);
    }

    [Fact]
    public async Task PythonSmtplib_PlainSession_LowLevelPipelinedCommands()
    {
        RequirePeer(Python);
        await using var host = await ServerTestHost.StartAsync();
        // smtplib itself waits for every reply; the low-level send() below writes MAIL/RCPT/DATA in one go.
        const string script = """
            import smtplib, sys
            s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
            s.ehlo("python.test")
            s.send(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n")
            codes = [s.getreply()[0] for _ in range(4)]
            assert codes == [250, 250, 250, 354], codes
            s.send(b"Subject: piped\r\n\r\nbody\r\n.\r\n")
            assert s.getreply()[0] == 250
            s.quit()
            print("ok")
            """;
        var result = await ServerTestProcess.RunAsync(Python, ["-c", script, host.EndPoint.Port.ToString()]);
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        var message = Assert.Single(host.Handlers.Messages);
        Assert.Equal(["b@example.test", "c@example.test"], message.To);
        Assert.Equal("Subject: piped\r\n\r\nbody\r\n", Encoding.ASCII.GetString(message.Data));
    }

    [Fact]
    public async Task Swaks_Pipelined_DeliversMessage()
    {
        RequirePeer(Swaks);
        await using var host = await ServerTestHost.StartAsync();
        var result = await ServerTestProcess.RunAsync(Swaks,
        [
            "--server", $"127.0.0.1:{host.EndPoint.Port}", "--pipeline", "--helo", "swaks.test",
            "--from", "sender@example.test", "--to", "one@example.test,two@example.test",
            "--header", "Subject: swaks pipelined", "--body", "hello from swaks\n.\n..dots",
            "--timeout", "20",
        ]);
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("PIPELINING", result.Output);
        var message = Assert.Single(host.Handlers.Messages);
        Assert.Equal(["one@example.test", "two@example.test"], message.To);
        var text = Encoding.ASCII.GetString(message.Data);
        Assert.Contains("Subject: swaks pipelined\r\n", text);
        Assert.Contains("hello from swaks\r\n.\r\n..dots\r\n", text);
    }

    [Fact]
    public async Task Swaks_StartTlsAndAuthPlain_DeliversMessage()
    {
        RequirePeer(Swaks);
        await using var host = await ServerTestHost.StartAsync(WithTlsAndAuth);
        var result = await ServerTestProcess.RunAsync(Swaks,
        [
            "--server", $"127.0.0.1:{host.EndPoint.Port}", "--tls", "--auth", "PLAIN",
            "--auth-user", "alice", "--auth-password", "s3cret",
            "--from", "sender@example.test", "--to", "one@example.test", "--body", "over tls", "--timeout", "20",
        ]);
        if (result.Output.Contains("TLS", StringComparison.Ordinal) && result.Output.Contains("not available", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Skip("swaks has no TLS support here: " + result.Output);
        }

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("235 2.7.0", result.Output);
        Assert.Contains("over tls\r\n", Encoding.ASCII.GetString(Assert.Single(host.Handlers.Messages).Data));
        Assert.True(host.Handlers.Sessions.Single().IsTls);
    }

    [Fact]
    public async Task Swaks_AuthLoginWrongPassword_GetsRefused()
    {
        RequirePeer(Swaks);
        await using var host = await ServerTestHost.StartAsync(o => WithTlsAndAuth(o) with { AllowAuthWithoutTls = true });
        var result = await ServerTestProcess.RunAsync(Swaks,
        [
            "--server", $"127.0.0.1:{host.EndPoint.Port}", "--auth", "LOGIN",
            "--auth-user", "alice", "--auth-password", "wrong",
            "--from", "sender@example.test", "--to", "one@example.test", "--timeout", "20",
        ]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("535 5.7.8", result.Output);
        Assert.Empty(host.Handlers.Messages);
    }

    [Fact]
    public async Task PostfixSmtpSource_FiveSessionsTwentyMessages_AllDelivered()
    {
        RequirePeer(SmtpSource);
        await using var host = await ServerTestHost.StartAsync();
        var result = await ServerTestProcess.RunAsync(SmtpSource,
        [
            "-s", "5", "-m", "20", "-l", "2000", "-f", "from@example.test", "-t", "to@example.test",
            "-M", "source.test", $"127.0.0.1:{host.EndPoint.Port}",
        ]);
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Equal(20, host.Handlers.Messages.Count);
        Assert.All(host.Handlers.Messages, m =>
        {
            var text = Encoding.ASCII.GetString(m.Data);
            Assert.StartsWith("From: <from@example.test>\r\n", text);
            Assert.EndsWith("\r\n", text);
            Assert.DoesNotContain("\r\n.\r\n", text);
            Assert.Equal(["to@example.test"], m.To);
        });
    }

    private static void RequirePeer(string path)
    {
        if (!File.Exists(path))
        {
            Assert.Skip($"{path} is not installed");
        }
    }
}
