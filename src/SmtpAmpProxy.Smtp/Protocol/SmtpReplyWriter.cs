using System.Buffers;
using System.Text;

namespace SmtpAmpProxy.Smtp.Protocol;

/// <summary>
/// Writes replies in RFC 5321 4.2.1 form ("250-..." for every line but the last). The enhanced code
/// (RFC 2034) is repeated on each line. Control characters in the text become '?': a reply must never
/// carry a CR or LF the handler (or an echoed client string) smuggled in, or it would forge reply lines.
/// </summary>
internal static class SmtpReplyWriter
{
    public static void Write(IBufferWriter<byte> output, in SmtpReply reply)
    {
        var code = reply.Code is >= 200 and <= 599 ? reply.Code : 451;
        var text = reply.Text ?? string.Empty;
        var enhanced = IsValidEnhancedCode(reply.EnhancedCode) ? reply.EnhancedCode : string.Empty;
        var start = 0;
        while (true)
        {
            var newline = text.IndexOf('\n', start);
            var last = newline < 0;
            var line = last ? text.AsSpan(start) : text.AsSpan(start, newline - start);
            WriteLine(output, code, enhanced, line, last);
            if (last)
            {
                return;
            }

            start = newline + 1;
        }
    }

    public static byte[] Encode(in SmtpReply reply)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        Write(buffer, reply);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteLine(IBufferWriter<byte> output, int code, string enhanced, ReadOnlySpan<char> text, bool last)
    {
        var max = 4 + enhanced.Length + 1 + Encoding.UTF8.GetMaxByteCount(text.Length) + 2;
        var span = output.GetSpan(max);
        span[0] = (byte)('0' + (code / 100));
        span[1] = (byte)('0' + (code / 10 % 10));
        span[2] = (byte)('0' + (code % 10));
        span[3] = last ? (byte)' ' : (byte)'-';
        var n = 4;
        if (enhanced.Length > 0)
        {
            n += Encoding.ASCII.GetBytes(enhanced, span[n..]);
            if (text.Length > 0)
            {
                span[n++] = (byte)' ';
            }
        }

        var written = Encoding.UTF8.GetBytes(text, span[n..]);
        foreach (ref var b in span.Slice(n, written))
        {
            if (b < 0x20 || b == 0x7F)
            {
                b = (byte)'?';
            }
        }

        n += written;
        span[n++] = (byte)'\r';
        span[n++] = (byte)'\n';
        output.Advance(n);
    }

    private static bool IsValidEnhancedCode(string? code)
    {
        if (string.IsNullOrEmpty(code) || code.Length > 11 || code[0] is not ('2' or '4' or '5'))
        {
            return false;
        }

        foreach (var c in code)
        {
            if (c is not ('.' or (>= '0' and <= '9')))
            {
                return false;
            }
        }

        return true;
    }
}
