using System.Text;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>A reply that is not SMTP: the stream is out of step and the connection cannot be trusted.</summary>
internal sealed class SmtpReplyFormatException(string reason) : Exception(reason);

/// <summary>
/// Pure parser of server replies (RFC 5321 4.2): "250-first", "250-second", "250 last", with the
/// RFC 3463 enhanced code lifted out of the text. Returns false for "need more bytes", never consuming
/// a partial reply, so any split of the input across reads gives the same result.
/// </summary>
internal static class ReplyParser
{
    /// <summary>RFC 5321 4.5.3.1.5 says 512 octets per reply line; generous for servers that exceed it.</summary>
    public const int MaxLineBytes = 4096;

    /// <summary>A whole reply bigger than this is no reply (an EHLO with dozens of lines is ~1 KB).</summary>
    public const int MaxReplyBytes = 65536;

    public static bool TryParse(ReadOnlySpan<byte> input, out SmtpReply reply, out int consumed)
    {
        reply = default;
        consumed = 0;
        int code = -1;
        int lines = 0;
        int pos = 0;
        while (true)
        {
            ReadOnlySpan<byte> rest = input[pos..];
            int lf = rest.IndexOf((byte)'\n');
            if (lf < 0)
            {
                if (rest.Length > MaxLineBytes || pos + rest.Length > MaxReplyBytes)
                {
                    throw new SmtpReplyFormatException("reply line too long");
                }

                CheckPrefix(rest, code);
                return false;
            }

            if (lf > MaxLineBytes || pos + lf > MaxReplyBytes)
            {
                throw new SmtpReplyFormatException("reply line too long");
            }

            ReadOnlySpan<byte> line = TrimCr(rest[..lf]);
            int lineCode = LineCode(line);
            if (code >= 0 && lineCode != code)
            {
                throw new SmtpReplyFormatException("reply code changed inside a multi-line reply");
            }

            code = lineCode;
            lines++;
            pos += lf + 1;
            if (line.Length == 3 || line[3] == (byte)' ')
            {
                break;
            }
        }

        reply = Build(input[..pos], code, lines);
        consumed = pos;
        return true;
    }

    /// <summary>Fails early on garbage, without waiting for a line end that may never come.</summary>
    private static void CheckPrefix(ReadOnlySpan<byte> partial, int code)
    {
        for (int i = 0; i < partial.Length && i < 4; i++)
        {
            byte b = partial[i];
            bool ok = i switch
            {
                0 => b is >= (byte)'2' and <= (byte)'5',
                1 or 2 => b is >= (byte)'0' and <= (byte)'9',
                _ => b is (byte)' ' or (byte)'-' or (byte)'\r',
            };
            if (!ok)
            {
                throw new SmtpReplyFormatException("not an SMTP reply");
            }
        }

        if (code >= 0 && partial.Length >= 3 && ParseCode(partial) != code)
        {
            throw new SmtpReplyFormatException("reply code changed inside a multi-line reply");
        }
    }

    private static int LineCode(ReadOnlySpan<byte> line)
    {
        if (line.Length < 3 || (line.Length > 3 && line[3] is not ((byte)' ' or (byte)'-')))
        {
            throw new SmtpReplyFormatException("not an SMTP reply");
        }

        int code = ParseCode(line);
        if (code < 200 || code > 599)
        {
            throw new SmtpReplyFormatException("not an SMTP reply");
        }

        return code;
    }

    private static int ParseCode(ReadOnlySpan<byte> line)
    {
        int code = 0;
        for (int i = 0; i < 3; i++)
        {
            int d = line[i] - '0';
            if (d is < 0 or > 9)
            {
                return -1;
            }

            code = (code * 10) + d;
        }

        return code;
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line;

    private static SmtpReply Build(ReadOnlySpan<byte> replyBytes, int code, int lineCount)
    {
        string enhanced = "";
        var text = new StringBuilder();
        int pos = 0;
        for (int i = 0; i < lineCount; i++)
        {
            int lf = replyBytes[pos..].IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = TrimCr(replyBytes.Slice(pos, lf));
            pos += lf + 1;
            ReadOnlySpan<byte> lineText = line.Length > 4 ? line[4..] : [];
            if (i == 0)
            {
                enhanced = EnhancedCode(lineText, code);
            }

            if (enhanced.Length > 0 && lineText.StartsWith(Encoding.ASCII.GetBytes(enhanced)))
            {
                lineText = lineText[enhanced.Length..];
                if (lineText.Length > 0 && lineText[0] == (byte)' ')
                {
                    lineText = lineText[1..];
                }
            }

            if (i > 0)
            {
                text.Append('\n');
            }

            AppendSafe(text, lineText);
        }

        return new SmtpReply(code, enhanced, text.ToString());
    }

    /// <summary>
    /// RFC 3463 2: class "." subject "." detail, class 2, 4 or 5, subject and detail 1 to 3 digits.
    /// Only taken when its class agrees with the reply code (RFC 2034 3), else it is ordinary text.
    /// </summary>
    internal static string EnhancedCode(ReadOnlySpan<byte> text, int code)
    {
        if (text.Length < 5 || text[0] != (byte)('0' + (code / 100)) || text[1] != (byte)'.')
        {
            return "";
        }

        int pos = 2;
        for (int part = 0; part < 2; part++)
        {
            int digits = 0;
            while (pos < text.Length && text[pos] is >= (byte)'0' and <= (byte)'9' && digits < 4)
            {
                pos++;
                digits++;
            }

            if (digits is 0 or > 3)
            {
                return "";
            }

            if (part == 0)
            {
                if (pos >= text.Length || text[pos] != (byte)'.')
                {
                    return "";
                }

                pos++;
            }
        }

        if (pos < text.Length && text[pos] != (byte)' ')
        {
            return "";
        }

        return Encoding.ASCII.GetString(text[..pos]);
    }

    // Reply text is mirrored to senders and written to logs: no control character survives it.
    private static void AppendSafe(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        string s = Encoding.UTF8.GetString(bytes);
        foreach (char c in s)
        {
            sb.Append(c < 0x20 || c == 0x7F ? ' ' : c);
        }
    }
}
