namespace SmtpAmpProxy.Relay;

/// <summary>Small facts about a relayed message and reply, for the log line.</summary>
internal static class MessageFacts
{
    private const int MaxScan = 64 * 1024;

    /// <summary>The Message-ID field value from the top-level header block, unfolded; null when absent.</summary>
    public static string? FindMessageId(ReadOnlySpan<byte> message)
    {
        var headers = message[..Math.Min(message.Length, MaxScan)];
        var lineStart = 0;
        while (lineStart < headers.Length)
        {
            var rest = headers[lineStart..];
            var end = rest.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            if (line.Length == 0 || line is [(byte)'\r'])
            {
                return null;
            }

            if (line.Length > 11 && System.Text.Ascii.EqualsIgnoreCase(line[..11], "Message-ID:"u8))
            {
                var value = new System.Text.StringBuilder();
                AppendPrintable(value, line[11..]);
                // Folded continuation lines start with white space (RFC 5322 §2.2.3).
                var next = lineStart + (end < 0 ? rest.Length : end + 1);
                while (next < headers.Length && headers[next] is (byte)' ' or (byte)'\t')
                {
                    var more = headers[next..];
                    var moreEnd = more.IndexOf((byte)'\n');
                    AppendPrintable(value, moreEnd < 0 ? more : more[..moreEnd]);
                    next += moreEnd < 0 ? more.Length : moreEnd + 1;
                }

                var text = value.ToString().Trim();
                return text.Length == 0 ? null : text.Length > 256 ? text[..256] : text;
            }

            if (end < 0)
            {
                return null;
            }

            lineStart += end + 1;
        }

        return null;
    }

    /// <summary>The upstream's queue id from "250 2.0.0 Ok: queued as ABC123" (Postfix and SendGrid say it so).</summary>
    public static string? FindQueueId(string replyText)
    {
        const string Marker = "queued as ";
        var at = replyText.IndexOf(Marker, StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return null;
        }

        var id = replyText[(at + Marker.Length)..];
        var stop = id.IndexOfAny([' ', '\r', '\n']);
        return stop < 0 ? id : id[..stop];
    }

    private static void AppendPrintable(System.Text.StringBuilder builder, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and < 0x7f)
            {
                builder.Append((char)b);
            }
        }
    }
}
