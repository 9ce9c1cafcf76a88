using System.Text;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>Small raw messages with CRLF line ends, built part by part.</summary>
internal static class TestMessages
{
    public const string Plain = "text/plain";
    public const string Html = "text/html";
    public const string Amp = "text/x-amp-html";

    private static readonly Dictionary<string, string> Bodies = new()
    {
        [Plain] = "Hello in plain text.\r\n.A line that starts with a dot.\r\n",
        [Html] = "<p>Hello in HTML</p>\r\n",
        [Amp] = "<!doctype html><html \u26a14email><head><meta charset=\"utf-8\">"
            + "<script async src=\"https://cdn.ampproject.org/v0.js\"></script>"
            + "<style amp4email-boilerplate>body{visibility:hidden}</style></head><body>Hello AMP</body></html>\r\n",
    };

    /// <summary>multipart/alternative with one child per content type, in the order given.</summary>
    public static byte[] Alternative(string messageId, params string[] childTypes)
    {
        var builder = new StringBuilder()
            .Append("From: Sender <sender@example.com>\r\n")
            .Append("To: Rcpt <rcpt@example.net>\r\n")
            .Append("Subject: test ").Append(messageId).Append("\r\n")
            .Append("Message-ID: <").Append(messageId).Append("@example.com>\r\n")
            .Append("X-SMTPAPI: {\"category\": [\"amp\"]}\r\n")
            .Append("MIME-Version: 1.0\r\n")
            .Append("Content-Type: multipart/alternative; boundary=\"b1\"\r\n")
            .Append("\r\n")
            .Append("preamble\r\n");
        foreach (var type in childTypes)
        {
            builder.Append("--b1\r\n")
                .Append("Content-Type: ").Append(type).Append("; charset=utf-8\r\n")
                .Append("\r\n")
                .Append(Bodies[type]);
        }

        builder.Append("--b1--\r\n");
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    /// <summary>An AMP part directly under multipart/mixed: amp-misplaced.</summary>
    public static byte[] MisplacedAmp(string messageId) => Encoding.UTF8.GetBytes(
        "From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: misplaced\r\n" +
        $"Message-ID: <{messageId}@example.com>\r\nMIME-Version: 1.0\r\n" +
        "Content-Type: multipart/mixed; boundary=m\r\n\r\n" +
        "--m\r\nContent-Type: text/plain\r\n\r\nplain\r\n" +
        "--m\r\nContent-Type: text/x-amp-html\r\n\r\n" + Bodies[Amp] +
        "--m--\r\n");

    /// <summary>A compliant alternative whose AMP document loads an image over plain http (amp-insecure-url).</summary>
    public static byte[] InsecureAmp(string messageId) =>
        Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Alternative(messageId, Amp, Plain, Html))
            .Replace("<body>Hello AMP</body>", "<body><amp-img src=\"http://images.example.com/a.png\" width=\"1\" height=\"1\"></amp-img></body>", StringComparison.Ordinal));

    public static byte[] PlainText(string messageId, string body = "Just text.\r\n") => Encoding.UTF8.GetBytes(
        $"From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: plain\r\nMessage-ID: <{messageId}@example.com>\r\n\r\n{body}");

    /// <summary>SMTP dot-stuffing (RFC 5321 §4.5.2), for clients that write raw DATA.</summary>
    public static byte[] DotStuff(byte[] message)
    {
        var text = Encoding.UTF8.GetString(message);
        var stuffed = (text.StartsWith('.') ? "." : "") + text.Replace("\r\n.", "\r\n..", StringComparison.Ordinal);
        if (stuffed.EndsWith("\r\n", StringComparison.Ordinal))
        {
            stuffed = stuffed[..^2];
        }

        return Encoding.UTF8.GetBytes(stuffed);
    }

    /// <summary>The message after the trace fields the proxy prepends (Received: and its folded lines).</summary>
    public static byte[] WithoutPrependedTrace(byte[] relayed)
    {
        var at = 0;
        while (StartsWith(relayed, at, "Received:"))
        {
            at = IndexOfLineEnd(relayed, at);
            while (at < relayed.Length && relayed[at] is (byte)' ' or (byte)'\t')
            {
                at = IndexOfLineEnd(relayed, at);
            }
        }

        return relayed[at..];
    }

    private static bool StartsWith(byte[] bytes, int at, string prefix) =>
        bytes.Length - at >= prefix.Length && Encoding.ASCII.GetString(bytes, at, prefix.Length) == prefix;

    private static int IndexOfLineEnd(byte[] bytes, int from)
    {
        var lf = Array.IndexOf(bytes, (byte)'\n', from);
        return lf < 0 ? bytes.Length : lf + 1;
    }
}
