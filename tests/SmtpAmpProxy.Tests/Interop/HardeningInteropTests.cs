using System.Text;
using SmtpAmpProxy.Tests.Faults;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Interop;

/// <summary>The hardening replies and rewrites as clients we did not write see them: Python smtplib and swaks.</summary>
public sealed class HardeningInteropTests
{
    [Fact]
    public async Task Smtplib_SmtpUtf8Transaction_ReceivedSaysUtf8Smtp_PlainOneSaysEsmtp()
    {
        var python = Peers.RequirePython();
        await using var proxy = await ProxyTestHost.StartAsync();
        const string Script = """
            import smtplib, sys
            port = int(sys.argv[1])
            message = "From: a@example.com\r\nTo: b@example.net\r\nSubject: utf8\r\n\r\nbody\r\n".encode()
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
                s.ehlo("python.test")
                assert s.has_extn("smtputf8")
                s.sendmail("a@example.com", ["b@example.net"], message, mail_options=["SMTPUTF8"])
                s.sendmail("a@example.com", ["b@example.net"], message)
            print("sent")
            """;
        var result = Peers.Run(python, ["-c", Script, proxy.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);

        var received = proxy.OutboxFiles().Select(File.ReadAllText).Select(t => t[..t.IndexOf("From:", StringComparison.Ordinal)]).ToList();
        Assert.Equal(2, received.Count);
        Assert.Single(received, r => r.Contains(" with UTF8SMTP id ", StringComparison.Ordinal));
        Assert.Single(received, r => r.Contains(" with ESMTP id ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Smtplib_LineOf3000Octets_ArrivesFoldedUnder998_PythonEmailReadsTheSameBody()
    {
        var python = Peers.RequirePython();
        await using var proxy = await ProxyTestHost.StartAsync();
        var line = string.Concat(Enumerable.Range(0, 3000).Select(i => (char)('a' + (i % 26))));
        var message = $"From: a@example.com\r\nTo: b@example.net\r\nSubject: long line\r\n\r\n{line}\r\nend\r\n";

        var outcome = PythonSmtp.Send(proxy.EndPoint, "a@example.com", ["b@example.net"], Encoding.ASCII.GetBytes(message));
        Assert.True(outcome.Ok, outcome.Text);

        var relayed = await File.ReadAllTextAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        Assert.All(relayed.Split("\r\n"), l => Assert.InRange(l.Length, 0, 998));
        var body = relayed[(relayed.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.Equal(line + "\r\nend\r\n", body.Replace("\r\n ", "", StringComparison.Ordinal));

        // Python's email package reads the folded body as three lines of at most 998 characters.
        const string Reader = "import sys, email; m = email.message_from_binary_file(open(sys.argv[1], 'rb')); " +
            "print(max(len(l) for l in m.get_payload().splitlines()))";
        var read = Peers.Run(python, ["-c", Reader, Assert.Single(proxy.OutboxFiles())], TimeSpan.FromSeconds(30));
        Assert.True(read.ExitCode == 0, read.StdErr);
        Assert.Equal("998", read.StdOut.Trim());
    }

    [Fact]
    public async Task Swaks_NonAsciiEhloName_Gets501_5_5_2()
    {
        var swaks = Peers.RequireTool("swaks", "swaks");
        await using var proxy = await ProxyTestHost.StartAsync();

        var result = Peers.Run(swaks,
        [
            "--server", $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}", "--helo", "bücher.example",
            "--from", "a@example.com", "--to", "b@example.net", "--quit-after", "helo",
        ], TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("501 5.5.2 Error: non-ASCII host name", result.StdOut);
        Assert.Empty(proxy.OutboxFiles());
    }

    [Fact]
    public async Task Smtplib_RealProcess_TrickleBeforeEhloPastTheDeadline_Gets421_4_4_2AndTheConnectionCloses()
    {
        var python = Peers.RequirePython();
        using var directory = new TempDirectory();
        using var process = ProxyProcess.Start(
        [
            "--Proxy:Upstream:Mode=Directory", $"--Proxy:Upstream:Directory={directory.File("outbox")}",
            "--Proxy:Listen:0:Endpoint=127.0.0.1:0", "--Proxy:Http:Endpoint=", "--Logging:LogLevel:Default=Information",
            "--Proxy:Limits:HeloTimeout=00:00:02", "--Proxy:Limits:CommandTimeout=00:05:00",
        ]);
        try
        {
            var endPoint = await ProxyLogLines.Follow(process).ListeningAsync();

            // A NOOP, then half a command: the greeting-to-EHLO deadline (2 s) ends it, not the 5-minute command timeout.
            const string Script = """
                import smtplib, sys
                s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
                code, _ = s.docmd("NOOP")
                assert code == 250, code
                s.sock.sendall(b"EH")
                code, text = s.getreply()
                print(code, text.decode())
                print("closed" if s.sock.recv(1) == b"" else "open")
                """;
            var result = Peers.Run(python, ["-c", Script, endPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(90));

            Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
            var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("421 4.4.2 ", lines[0]);
            Assert.Equal("closed", lines[1].Trim());
        }
        finally
        {
            Peers.Stop(process);
        }
    }
}
