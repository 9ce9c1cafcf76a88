using System.Text;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Security;

/// <summary>Message-shape limits crossed through the real proxy: header block size, MIME depth, MIME part count.</summary>
public sealed class MessageLimitTests
{
    private const string Amp = "<!doctype html><html \u26a14email><head><meta charset=\"utf-8\"></head><body>Hi</body></html>\r\n";

    private static async Task<string> SendAsync(ProxyTestHost proxy, byte[] message)
    {
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            return await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message));
        }
    }

    /// <summary>A compliant AMP alternative wrapped in <paramref name="depth"/> levels of multipart/mixed.</summary>
    private static byte[] NestedAmp(string id, int depth)
    {
        var body = "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
            + "--alt\r\nContent-Type: text/x-amp-html; charset=utf-8\r\n\r\n" + Amp
            + "--alt\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
            + "--alt\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
            + "--alt--\r\n";
        for (var level = 0; level < depth; level++)
        {
            body = $"Content-Type: multipart/mixed; boundary=\"m{level}\"\r\n\r\n--m{level}\r\n{body}--m{level}--\r\n";
        }

        return Encoding.UTF8.GetBytes($"From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: deep\r\nMessage-ID: <{id}@example.com>\r\nMIME-Version: 1.0\r\n{body}");
    }

    /// <summary>An AMP alternative followed by <paramref name="attachments"/> small attachments in one multipart/mixed.</summary>
    private static byte[] WideAmp(string id, int attachments)
    {
        var builder = new StringBuilder()
            .Append($"From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: wide\r\nMessage-ID: <{id}@example.com>\r\nMIME-Version: 1.0\r\n")
            .Append("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n")
            .Append("--mix\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n")
            .Append("--alt\r\nContent-Type: text/x-amp-html; charset=utf-8\r\n\r\n").Append(Amp)
            .Append("--alt\r\nContent-Type: text/plain\r\n\r\nplain\r\n--alt--\r\n");
        for (var i = 0; i < attachments; i++)
        {
            builder.Append($"--mix\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"a{i}.txt\"\r\n\r\nattachment {i}\r\n");
        }

        return Encoding.UTF8.GetBytes(builder.Append("--mix--\r\n").ToString());
    }

    [Fact]
    public async Task HeaderBlockOverMaxHeaderBytes_Gets552AndNothingIsRelayed_SmallerHeaderPasses()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Limits:MaxHeaderBytes"] = "1024" });
        var filler = string.Concat(Enumerable.Range(0, 40).Select(i => $"X-Filler-{i:00}: {new string('f', 40)}\r\n"));
        var big = Encoding.UTF8.GetBytes(filler + Encoding.UTF8.GetString(TestMessages.PlainText("big-header")));

        Assert.Equal("552 5.3.4 Message header size exceeds limit", await SendAsync(proxy, big));
        Assert.Empty(proxy.OutboxFiles());

        // Not an AMP message: the MIME parser never sees it, so only the DATA-path check can stop it.
        var body = string.Concat(Enumerable.Repeat(new string('b', 76) + "\r\n", 200));
        Assert.StartsWith("250", await SendAsync(proxy, TestMessages.PlainText("big-body", body)));
        Assert.Single(proxy.OutboxFiles());
    }

    [Fact]
    public async Task AmpMessageDeeperThanMaxMimeDepth_Gets554MimeLimit()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Limits:MaxMimeDepth"] = "4" });

        Assert.StartsWith("554 5.6.0 mime-limit", await SendAsync(proxy, NestedAmp("too-deep", 6)));
        Assert.StartsWith("250", await SendAsync(proxy, NestedAmp("shallow", 2)));

        Assert.Single(proxy.OutboxFiles());
        Assert.Contains(proxy.Logs.WithEvent(3100), l => l.Field("Code") == "mime-limit" && l.Field("MessageId") == "<too-deep@example.com>");
    }

    [Fact]
    public async Task AmpMessageWithMorePartsThanMaxMimeParts_Gets554MimeLimit()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Limits:MaxMimeParts"] = "10" });

        Assert.StartsWith("554 5.6.0 mime-limit", await SendAsync(proxy, WideAmp("too-wide", 20)));
        Assert.StartsWith("250", await SendAsync(proxy, WideAmp("narrow", 2)));

        Assert.Single(proxy.OutboxFiles());
        Assert.Contains(proxy.Logs.WithEvent(3100), l => l.Field("Code") == "mime-limit" && l.Field("MessageId") == "<too-wide@example.com>");
    }
}
