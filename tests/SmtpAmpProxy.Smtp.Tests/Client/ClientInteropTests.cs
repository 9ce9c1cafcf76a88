using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Client;

/// <summary>The client against upstreams we did not write: Postfix smtp-sink and aiosmtpd.</summary>
public sealed class ClientInteropTests : IDisposable
{
    private const string SmtpSink = "/usr/sbin/smtp-sink";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "smtp-client-interop-" + Guid.NewGuid().ToString("N"));

    public ClientInteropTests() => Directory.CreateDirectory(_directory);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Canonical messages (CRLF, ends with CRLF) with what breaks naive relays: dot lines, 8-bit bytes, X-SMTPAPI.</summary>
    private static byte[][] Messages(int count) => Enumerable.Range(1, count).Select(i => Concat(
        Encoding.ASCII.GetBytes(
            $"From: sender@example.com\r\nTo: rcpt@example.org\r\nSubject: interop {i}\r\n" +
            "X-SMTPAPI: {\"category\":[\"amp\",\"interop\"],\"unique_args\":{\"n\":\"" + i + "\"},\r\n" +
            " \"filters\":{\"clicktrack\":{\"settings\":{\"enable\":0}}}}\r\n" +
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
            ".leading dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n"),
        "Grüße, 日本語, \u00e9\r\n"u8.ToArray(),
        [0xE9, 0xFF, 0x80, (byte)'\r', (byte)'\n'],
        Encoding.ASCII.GetBytes(new string('x', 900) + "\r\n.\r\n.end\r\n"))).ToArray();

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    [Fact]
    public async Task SmtpSink_PipelinedMessagesWithDotsAnd8Bit_StoredExactly()
    {
        Assert.SkipUnless(File.Exists(SmtpSink), SmtpSink + " is not installed");
        int port = PeersProcess.FreePort();
        using PeersProcess sink = StartSmtpSink(port);
        await sink.WaitForPortAsync(port);
        // No AUTH here: smtp-sink answers AUTH with 250 instead of 235 (it makes no claim to compliance),
        // which the client rightly refuses; aiosmtpd covers AUTH.
        var options = new SmtpClientOptions { Host = "127.0.0.1", Port = port, Tls = TlsMode.None };
        byte[][] messages = Messages(3);

        await using (var pool = new SmtpConnectionPool(options, new SmtpPoolOptions { MaxConnections = 2 }, NullLoggerFactory.Instance))
        {
            foreach (byte[] message in messages)
            {
                SmtpConnectionLease lease = await pool.RentAsync(Ct);
                Assert.Contains("PIPELINING", lease.Connection.Extensions);
                RelayedReplies replies = await lease.Connection.SendMessageAsync("sender@example.com", "BODY=8BITMIME", [new("rcpt@example.org")], [message], Ct);
                Assert.Equal(250, replies.Data?.Code);
                await lease.ReturnAsync();
            }
        }

        string[] dumps = await WaitForFilesAsync(_directory, "*", messages.Length);
        string[] bodies = dumps.Select(f => SinkBody(File.ReadAllBytes(f))).Order().ToArray();
        string[] expected = messages.Select(m => Encoding.Latin1.GetString(m).Replace("\r\n", "\n") + "\n").Order().ToArray();
        Assert.Equal(expected, bodies);
        Assert.All(dumps, f => Assert.Contains("X-Mail-Args: <sender@example.com> BODY=8BITMIME\n", File.ReadAllText(f, Encoding.Latin1)));
    }

    [Fact]
    public async Task SmtpSink_RestartedWhilePoolIdle_EverySendSucceeds()
    {
        Assert.SkipUnless(File.Exists(SmtpSink), SmtpSink + " is not installed");
        int port = PeersProcess.FreePort();
        var options = new SmtpClientOptions { Host = "127.0.0.1", Port = port, Tls = TlsMode.None };
        await using var pool = new SmtpConnectionPool(options, new SmtpPoolOptions { MaxConnections = 3 }, NullLoggerFactory.Instance);
        byte[] message = Messages(1)[0];

        using (PeersProcess first = StartSmtpSink(port))
        {
            await first.WaitForPortAsync(port);
            SmtpConnectionLease[] all = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => pool.RentAsync(Ct)));
            foreach (SmtpConnectionLease lease in all)
            {
                await lease.ReturnAsync();
            }

            Assert.Equal(3, pool.IdleCount);
            first.Stop();
        }

        using PeersProcess second = StartSmtpSink(port);
        await second.WaitForPortAsync(port);
        int failures = 0;
        await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            SmtpConnectionLease lease = await pool.RentAsync(Ct);
            try
            {
                RelayedReplies replies = await lease.Connection.SendMessageAsync("a@example.com", null, [new("b@example.org")], [message], Ct);
                if (replies.Data?.Code != 250)
                {
                    Interlocked.Increment(ref failures);
                }
            }
            catch (SmtpConnectionException)
            {
                Interlocked.Increment(ref failures);
            }
            finally
            {
                await lease.ReturnAsync();
            }
        }));

        Assert.Equal(0, failures);
        Assert.Equal(6, (await WaitForFilesAsync(_directory, "*", 6)).Length);
    }

    [Fact]
    public async Task Aiosmtpd_StartTlsAuthPlain_StoredExactlyWithEnvelope()
    {
        Assert.SkipWhen(PeersAiosmtpd.Missing is not null, PeersAiosmtpd.Missing ?? "");
        using var certificates = ClientCertificates.Create();
        (PeersProcess process, int port) = await PeersAiosmtpd.StartAsync(_directory, certificates.ServerCertPath, certificates.ServerKeyPath, "apikey", "SG.secret");
        using PeersProcess peer = process;
        var options = new SmtpClientOptions
        {
            Host = "127.0.0.1",
            Port = port,
            Tls = TlsMode.StartTls,
            CaCertificatePath = certificates.CaPath,
            Username = "apikey",
            Password = "SG.secret",
        };
        byte[][] messages = Messages(2);

        await using (SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, Ct))
        {
            Assert.True(connection.IsTls);
            foreach (byte[] message in messages)
            {
                RelayedReplies replies = await connection.SendMessageAsync("sender@example.com", null, [new("one@example.org"), new("two@example.org")], [message[..100], message[100..]], Ct);
                Assert.StartsWith("Ok: queued as Q", replies.Data?.Text);
            }

            await connection.QuitAsync(Ct);
        }

        string[] stored = await WaitForFilesAsync(_directory, "*.eml", 2);
        Assert.Equal(messages[0], File.ReadAllBytes(stored[0]));
        Assert.Equal(messages[1], File.ReadAllBytes(stored[1]));
        using JsonDocument envelope = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(stored[0], ".json")));
        Assert.Equal("sender@example.com", envelope.RootElement.GetProperty("from").GetString());
        Assert.Equal(["one@example.org", "two@example.org"], envelope.RootElement.GetProperty("to").EnumerateArray().Select(e => e.GetString()));
        Assert.True(envelope.RootElement.GetProperty("tls").GetBoolean());
    }

    [Fact]
    public async Task Aiosmtpd_WrongPassword_AuthFailureWithReply()
    {
        Assert.SkipWhen(PeersAiosmtpd.Missing is not null, PeersAiosmtpd.Missing ?? "");
        using var certificates = ClientCertificates.Create();
        (PeersProcess process, int port) = await PeersAiosmtpd.StartAsync(_directory, certificates.ServerCertPath, certificates.ServerKeyPath, "apikey", "SG.secret");
        using PeersProcess peer = process;
        var options = new SmtpClientOptions { Host = "127.0.0.1", Port = port, CaCertificatePath = certificates.CaPath, Username = "apikey", Password = "wrong" };

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(options, Ct));

        Assert.Equal(SmtpFailureStage.Auth, e.Stage);
        Assert.Equal(535, e.Reply?.Code);
    }

    [Fact]
    public async Task Aiosmtpd_BareLineEndsAndSmugglingAttempt_StoredAsOneCanonicalMessage()
    {
        Assert.SkipWhen(PeersAiosmtpd.Missing is not null, PeersAiosmtpd.Missing ?? "");
        (PeersProcess process, int port) = await PeersAiosmtpd.StartAsync(_directory);
        using PeersProcess peer = process;
        var options = new SmtpClientOptions { Host = "127.0.0.1", Port = port, Tls = TlsMode.None };
        byte[] content = "Subject: smuggle\r\n\r\nhello\n.\r\nMAIL FROM:<evil@example.com>\r\nbare\rcr\n."u8.ToArray();

        await using (SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, Ct))
        {
            Assert.Contains("SMTPUTF8", connection.Extensions);
            RelayedReplies replies = await connection.SendMessageAsync("a@example.com", null, [new("b@example.org")], [content], Ct);
            Assert.Equal(250, replies.Data?.Code);
            await connection.QuitAsync(Ct);
        }

        string stored = Encoding.ASCII.GetString(File.ReadAllBytes(Assert.Single(await WaitForFilesAsync(_directory, "*.eml", 1))));
        Assert.Equal("Subject: smuggle\r\n\r\nhello\r\n.\r\nMAIL FROM:<evil@example.com>\r\nbare\r\ncr\r\n.\r\n", stored);
    }

    private PeersProcess StartSmtpSink(int port) =>
        PeersProcess.Start(SmtpSink, "-u", Environment.UserName, "-d", Path.Combine(_directory, "%M."), "127.0.0.1:" + port, "100");

    /// <summary>The message part of an smtp-sink dump: after its three-line Received header.</summary>
    private static string SinkBody(byte[] dump)
    {
        string text = Encoding.Latin1.GetString(dump);
        int received = text.IndexOf("\nReceived: ", StringComparison.Ordinal);
        int start = received;
        for (int lines = 0; lines < 3; lines++)
        {
            start = text.IndexOf('\n', start + 1);
        }

        return text[(start + 1)..];
    }

    /// <summary>Polls (bounded) until the peer has written the expected number of complete files.</summary>
    private static async Task<string[]> WaitForFilesAsync(string directory, string pattern, int count)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            string[] files = Directory.GetFiles(directory, pattern)
                .Where(f => !f.EndsWith(".py", StringComparison.Ordinal) && !f.EndsWith(".json", StringComparison.Ordinal) && !f.EndsWith(".tmp", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)
                .ToArray();
            if (files.Length >= count || DateTime.UtcNow > deadline)
            {
                Assert.Equal(count, files.Length);
                return files;
            }

            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
