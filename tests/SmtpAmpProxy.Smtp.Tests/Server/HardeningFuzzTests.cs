using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>
/// Seeded random command streams against the real server: random verbs and arguments, control bytes,
/// CR/LF split anywhere, pipelined bursts, over-long lines, DATA with dot lines and smuggling shapes,
/// STARTTLS followed by garbage. No session may crash or hang, the server must log no error, and a
/// well-behaved client must still get its message through afterwards.
/// </summary>
public sealed class HardeningFuzzTests
{
    private const int Sessions = 240;
    private const int Parallel = 8;

    private static readonly string[] Verbs =
    [
        "EHLO", "HELO", "MAIL FROM:", "RCPT TO:", "DATA", "RSET", "NOOP", "VRFY", "HELP", "AUTH PLAIN", "AUTH LOGIN",
        "AUTH CRAM-MD5", "BDAT", "ETRN", "XCLIENT", "ehlo", "mail from:", "rcpt to:", "Data", "\u0415HLO", "MAIL\0FROM:",
        "", " ", "STARTTLS", "QUIT",
    ];

    private static readonly string[] Arguments =
    [
        "client.test", "<a@b.test>", "<>", "<postmaster>", "<@relay.test:a@b.test>", "<a@b.test> SIZE=100",
        "<a@b.test> SIZE=99999999999999999999", "<a@b.test> BODY=8BITMIME SMTPUTF8", "<\u00fc@b.test> SMTPUTF8",
        "<a b@c.test>", "<\"quoted local\"@b.test>", "a@b.test", "<a@b.test", "AGFsaWNlAHMzY3JldA==", "*", "=",
        "<a@b.test> X=\u0001", "\0", "\r", "\u00ff\u00fe", "[127.0.0.1]", "<a@[IPv6:::1]>",
    ];

    private static readonly string[] LineEnds = ["\r\n", "\r\n", "\r\n", "\n", "\r", "", "\r\r\n", "\n\r"];

    private static readonly string[] DataLines =
    [
        "Subject: fuzz", "", ".", "..", "...", ". ", ".\r", "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "MAIL FROM:<evil@x.test>",
        "\0\0\0", "line with \u00e9 utf-8", "From: a@b.test", "\t folded", new string('x', 1200),
    ];

    [Fact]
    public async Task RandomCommandStreams_ManySessions_NeverCrashOrHang_ServerStillServes()
    {
        const int Seed = 20260401;
        await using var host = await ServerTestHost.StartAsync(o => o with
        {
            Certificate = ServerTestCertificate.Instance,
            Authenticator = new ServerTestAuthenticator("alice", "s3cret"),
            AllowAuthWithoutTls = true,
            MaxMessageBytes = 64 * 1024,
            MaxHeaderBytes = 8 * 1024,
            MaxCommandLineBytes = 512,
            MaxRecipients = 5,
            MaxErrorsPerSession = 1000,
            MaxConnectionsPerIp = 4 * Parallel,

            // No sleeps and no lockout: every fuzz session should reach the AUTH code, not a 421.
            AuthFailureDelay = TimeSpan.Zero,
            MaxAuthFailures = 0,
        });
        var seeds = new Random(Seed);
        var sessionSeeds = Enumerable.Range(0, Sessions).Select(_ => seeds.Next()).ToArray();

        for (var start = 0; start < Sessions; start += Parallel)
        {
            await Task.WhenAll(sessionSeeds.Skip(start).Take(Parallel).Select(seed => FuzzSessionAsync(host, seed)));
        }

        await ServerTestHost.WaitUntilAsync(() => host.Server.ActiveSessions == 0, "every fuzz session has ended");
        Assert.DoesNotContain(host.Logs.Entries, e => e.Level >= LogLevel.Error);

        // The fuzz reached the deep paths, not only the command parser: delivered and refused messages,
        // failed AUTH, STARTTLS handshakes on garbage.
        Assert.NotEmpty(host.Handlers.Messages);
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1033);
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1041);
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1020);

        await using var client = await host.ConnectEhloAsync();
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<after@b.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@b.test>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        Assert.Equal("250 2.0.0 Ok: queued as TEST", await client.CommandAsync("Subject: after the fuzz\r\n\r\nstill fine\r\n."));
        Assert.Contains(host.Handlers.Messages, m => m.From == "after@b.test");
    }

    /// <summary>One session: random bytes written in random splits while a reader drains replies; then a clean end.</summary>
    private static async Task FuzzSessionAsync(ServerTestHost host, int seed)
    {
        var random = new Random(seed);
        using var socket = new Socket(host.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(host.EndPoint, deadline.Token);
        var drain = DrainAsync(socket, deadline.Token);
        try
        {
            var script = Script(random);
            var at = 0;
            while (at < script.Length)
            {
                var size = random.Next(4) == 0 ? random.Next(1, 4) : random.Next(1, 2048);
                size = Math.Min(size, script.Length - at);
                await socket.SendAsync(script.AsMemory(at, size), deadline.Token);
                at += size;
            }

            // Whatever state it left: end any DATA, then QUIT, then half-close so the server sees the end.
            await socket.SendAsync("\r\n.\r\nQUIT\r\n"u8.ToArray(), deadline.Token);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The server may close first (QUIT in the script, 421 after too many errors, a failed TLS handshake).
        }

        var closed = await drain;
        Assert.True(closed, $"session with seed {seed} was still open after 30 s");
    }

    /// <summary>Reads until the server closes; false if it was still open at the deadline.</summary>
    private static async Task<bool> DrainAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[8192];
        try
        {
            while (await socket.ReceiveAsync(buffer, ct) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static byte[] Script(Random random)
    {
        var text = new StringBuilder(random.Next(4) == 0 ? "" : "EHLO fuzz.test\r\n");
        var commands = random.Next(5, 40);
        for (var i = 0; i < commands; i++)
        {
            var roll = random.Next(100);
            if (roll < 5)
            {
                // Over-long line, sometimes without any line end for a while.
                text.Append(new string((char)random.Next('A', 'Z' + 1), random.Next(500, 5000)));
            }
            else if (roll < 10)
            {
                // Raw noise, control bytes included.
                for (var n = random.Next(1, 64); n > 0; n--)
                {
                    text.Append((char)random.Next(0, 256));
                }
            }
            else if (roll < 20)
            {
                // A plausible transaction, pipelined, then DATA content with dot lines in random shapes.
                text.Append("MAIL FROM:<s@b.test>\r\nRCPT TO:<r@b.test>\r\nDATA\r\n");
                for (var n = random.Next(0, 30); n > 0; n--)
                {
                    text.Append(Pick(random, DataLines)).Append(Pick(random, LineEnds));
                }

                if (random.Next(2) == 0)
                {
                    text.Append("\r\n.\r\n");
                }
            }
            else
            {
                var verb = Pick(random, Verbs);
                if (verb == "QUIT" && random.Next(4) != 0)
                {
                    verb = "NOOP";
                }

                text.Append(verb);
                if (random.Next(3) != 0)
                {
                    text.Append(random.Next(5) == 0 ? "" : " ").Append(Pick(random, Arguments));
                }
            }

            text.Append(Pick(random, LineEnds));
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static string Pick(Random random, string[] items) => items[random.Next(items.Length)];
}
