using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Tests.Support;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Tests.Interop;

/// <summary>
/// The relay's upstream transaction, built by the appliance from its configuration as in production and
/// driven the way a sender's session drives it (MAIL, each RCPT, DATA, the content), against upstreams
/// we did not write: Postfix's smtp-sink and aiosmtpd.
/// </summary>
public sealed class UpstreamTransactionInteropTests
{
    private static readonly SmtpSessionInfo Session = new(1, new IPEndPoint(IPAddress.Loopback, 40000), new IPEndPoint(IPAddress.Loopback, 2525));

    /// <summary>Canonical messages (CRLF, ends with CRLF) with what breaks naive relays: dot lines, 8-bit bytes, X-SMTPAPI.</summary>
    private static byte[][] Messages(int count) => [.. Enumerable.Range(1, count).Select(i => Concat(
        Encoding.ASCII.GetBytes(
            $"From: sender@example.com\r\nTo: rcpt@example.org\r\nSubject: interop {i}\r\nMessage-ID: <interop-{i}@example.com>\r\n" +
            "X-SMTPAPI: {\"category\":[\"amp\",\"interop\"],\"unique_args\":{\"n\":\"" + i + "\"},\r\n" +
            " \"filters\":{\"clicktrack\":{\"settings\":{\"enable\":0}}}}\r\n" +
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
            ".leading dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n"),
        "Grüße, 日本語, \u00e9\r\n"u8.ToArray(),
        [0xE9, 0xFF, 0x80, (byte)'\r', (byte)'\n'],
        Encoding.ASCII.GetBytes(new string('x', 900) + "\r\n.\r\n.end\r\n")))];

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static SmtpUpstream UpstreamOf(ProxyTestHost proxy) => (SmtpUpstream)proxy.Services.GetRequiredService<IUpstream>();

    /// <summary>One message, each step as the session takes it; the transaction's replies in order, ending with the final one.</summary>
    private static async Task<List<SmtpReply>> RelayAsync(SmtpUpstream upstream, string from, MailParameters parameters, string[] to,
        IReadOnlyList<ReadOnlyMemory<byte>> content)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var transaction = upstream.Begin(Session);
        var replies = new List<SmtpReply> { await transaction.MailAsync(from, parameters, ct) };
        foreach (var recipient in to)
        {
            replies.Add(await transaction.RcptAsync(recipient, ct));
        }

        Assert.Null(await transaction.BeginDataAsync(ct));
        replies.Add(await transaction.DataAsync(content, ct));
        return replies;
    }

    private static MailParameters Plain => new(null, null, false, "");

    /// <summary>aiosmtpd requiring STARTTLS (a self-signed certificate) and AUTH as apikey / SG.secret.</summary>
    private static AiosmtpdUpstream StartTlsAuthPeer(TempDirectory certificates)
    {
        TestCertificate.WriteSelfSigned(certificates.File("tls.crt"), certificates.File("tls.key")).Dispose();
        return AiosmtpdUpstream.Start("--tls-cert", certificates.File("tls.crt"), "--tls-key", certificates.File("tls.key"), "--auth", "apikey:SG.secret");
    }

    /// <summary>The proxy as deployed in front of SendGrid: STARTTLS with certificate validation (the peer's certificate as the CA), AUTH as apikey.</summary>
    private static Task<ProxyTestHost> StartTlsAuthProxyAsync(AiosmtpdUpstream peer, TempDirectory certificates, string password) =>
        ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(peer.Port,
            ("Proxy:Upstream:Tls", "StartTls"), ("Proxy:Upstream:CaCertificatePath", certificates.File("tls.crt")),
            ("Proxy:Upstream:Username", "apikey"), ("Proxy:Upstream:Password", password)));

    [Fact]
    public async Task SmtpSink_MessagesWithDotsAnd8Bit_StoredExactlyWithBody8BitMime()
    {
        using var sink = SmtpSinkUpstream.Start();
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(sink.Port));
        var upstream = UpstreamOf(proxy);
        var messages = Messages(3);

        foreach (var message in messages)
        {
            var replies = await RelayAsync(upstream, "sender@example.com", new MailParameters(null, "8BITMIME", false, "BODY=8BITMIME"), ["rcpt@example.org"], [message]);
            Assert.Equal([250, 250, 250], replies.Select(r => r.Code));
        }

        Assert.Contains("PIPELINING", upstream.Pool.UpstreamExtensions!);
        Assert.Equal(1, upstream.Pool.TotalCount);
        await Eventually.UntilAsync(() => sink.MessageCount == messages.Length, () => $"{messages.Length} dumps, {sink.MessageCount} there");
        var dumps = sink.MessageFiles();
        var bodies = dumps.Select(f => SinkBody(File.ReadAllBytes(f))).Order(StringComparer.Ordinal);
        var expected = messages.Select(m => Encoding.Latin1.GetString(m).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n").Order(StringComparer.Ordinal);
        Assert.Equal(expected, bodies);
        Assert.All(dumps, f => Assert.Contains("X-Mail-Args: <sender@example.com> BODY=8BITMIME\n", File.ReadAllText(f, Encoding.Latin1)));
    }

    [Fact]
    public async Task SmtpSink_RestartedWhilePoolIdle_EveryTransactionSucceeds()
    {
        using var sink = SmtpSinkUpstream.Start();
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(sink.Port,
            ("Proxy:Upstream:MaxConnections", "3"), ("Proxy:Upstream:MaxConnectionsPerClient", "3"), ("Proxy:Upstream:PoolWait", "00:00:30")));
        var upstream = UpstreamOf(proxy);
        var ct = TestContext.Current.CancellationToken;

        // Three transactions at once take three connections, which go back idle.
        var held = await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
        {
            var transaction = upstream.Begin(Session);
            Assert.Equal(250, (await transaction.MailAsync("a@example.com", Plain, ct)).Code);
            return transaction;
        }));
        foreach (var transaction in held)
        {
            await transaction.DisposeAsync();
        }

        Assert.Equal(3, upstream.Pool.IdleCount);
        sink.Restart();

        var message = Messages(1)[0];
        var finals = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
            (await RelayAsync(upstream, "a@example.com", Plain, ["b@example.org"], [message]))[^1].Code));

        Assert.All(finals, code => Assert.Equal(250, code));
        await Eventually.UntilAsync(() => sink.MessageCount == 6, () => $"6 dumps after the restart, {sink.MessageCount} there");
    }

    [Fact]
    public async Task Aiosmtpd_StartTlsAuthPlain_TwoRecipients_StoredExactlyWithEnvelope()
    {
        using var certificates = new TempDirectory();
        using var peer = StartTlsAuthPeer(certificates);
        await using var proxy = await StartTlsAuthProxyAsync(peer, certificates, "SG.secret");
        var upstream = UpstreamOf(proxy);
        var messages = Messages(2);

        foreach (var message in messages)
        {
            // The content in two segments, as a repaired message is sent: unchanged ranges and rebuilt parts.
            var replies = await RelayAsync(upstream, "sender@example.com", Plain, ["one@example.org", "two@example.org"], [message[..100], message[100..]]);
            Assert.StartsWith("Ok: queued as AIO", replies[^1].Text, StringComparison.Ordinal);
        }

        await Eventually.UntilAsync(() => peer.Messages().Length == 2, () => $"2 messages at aiosmtpd, {peer.Messages().Length} there");
        var stored = peer.Messages();
        Assert.Equal(messages[0], await File.ReadAllBytesAsync(stored[0], TestContext.Current.CancellationToken));
        Assert.Equal(messages[1], await File.ReadAllBytesAsync(stored[1], TestContext.Current.CancellationToken));
        using var envelope = JsonDocument.Parse(await File.ReadAllTextAsync(Path.ChangeExtension(stored[0], ".json"), TestContext.Current.CancellationToken));
        Assert.Equal("sender@example.com", envelope.RootElement.GetProperty("from").GetString());
        Assert.Equal(["one@example.org", "two@example.org"], envelope.RootElement.GetProperty("to").EnumerateArray().Select(e => e.GetString()));
        Assert.True(envelope.RootElement.GetProperty("tls").GetBoolean());
        Assert.True(envelope.RootElement.GetProperty("auth").GetBoolean());
    }

    [Fact]
    public async Task Aiosmtpd_WrongPassword_MailGets451_4_7_0WithAuthFault()
    {
        using var certificates = new TempDirectory();
        using var peer = StartTlsAuthPeer(certificates);
        await using var proxy = await StartTlsAuthProxyAsync(peer, certificates, "wrong");

        await using var transaction = UpstreamOf(proxy).Begin(Session);
        var reply = await transaction.MailAsync("sender@example.com", Plain, TestContext.Current.CancellationToken);

        Assert.Equal((451, "4.7.0"), (reply.Code, reply.EnhancedCode));
        Assert.Equal(ProxyMetrics.Auth, transaction.Fault?.Kind);
        Assert.DoesNotContain("wrong", transaction.Fault!.Reason, StringComparison.Ordinal);
        Assert.Empty(peer.Messages());
    }

    [Fact]
    public async Task Aiosmtpd_BareLineEndsAndSmugglingAttempt_StoredAsOneCanonicalMessage()
    {
        using var peer = AiosmtpdUpstream.Start();
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(peer.Port));
        var content = "Subject: smuggle\r\n\r\nhello\n.\r\nMAIL FROM:<evil@example.com>\r\nbare\rcr\n."u8.ToArray();

        var replies = await RelayAsync(UpstreamOf(proxy), "a@example.com", Plain, ["b@example.org"], [content]);

        Assert.Equal(250, replies[^1].Code);
        await Eventually.UntilAsync(() => peer.Messages().Length == 1, () => "the message at aiosmtpd");
        var stored = Encoding.ASCII.GetString(await File.ReadAllBytesAsync(Assert.Single(peer.Messages()), TestContext.Current.CancellationToken));
        Assert.Equal("Subject: smuggle\r\n\r\nhello\r\n.\r\nMAIL FROM:<evil@example.com>\r\nbare\r\ncr\r\n.\r\n", stored);
    }

    /// <summary>The message part of an smtp-sink dump: after its three-line Received header.</summary>
    private static string SinkBody(byte[] dump)
    {
        var text = Encoding.Latin1.GetString(dump);
        var start = text.IndexOf("\nReceived: ", StringComparison.Ordinal);
        for (var lines = 0; lines < 3; lines++)
        {
            start = text.IndexOf('\n', start + 1);
        }

        return text[(start + 1)..];
    }
}
