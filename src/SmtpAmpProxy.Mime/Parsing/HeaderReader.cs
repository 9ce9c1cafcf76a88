namespace SmtpAmpProxy.Mime.Parsing;

/// <summary>Reads fields from a header block already delimited by the parser.</summary>
internal static class HeaderReader
{
    public static string? GetFirstValue(ReadOnlySpan<byte> block, string name)
    {
        var p = 0;
        while (p < block.Length)
        {
            var lineEnd = LineEnd(block, p);
            ParseWork.Add(1 + lineEnd - p);
            var colon = FieldColon(block, p, lineEnd, out var nameEnd);
            if (colon >= 0 && nameEnd - p == name.Length && System.Text.Ascii.EqualsIgnoreCase(block[p..nameEnd], name))
            {
                var end = lineEnd;
                while (end < block.Length && block[end] is (byte)' ' or (byte)'\t')
                {
                    end = LineEnd(block, end); // RFC 5322 §2.2.3 folded continuation
                }

                return Unfold(block[(colon + 1)..end]);
            }

            p = lineEnd;
        }

        return null;
    }

    /// <summary>Index of the colon of a field line "name: value" (RFC 5322 §2.2, §4.5 space before colon), or -1.</summary>
    internal static int FieldColon(ReadOnlySpan<byte> s, int p, int limit, out int nameEnd)
    {
        var q = p;
        while (q < limit && s[q] is > 32 and < 127 and not (byte)':')
        {
            q++;
        }

        nameEnd = q;
        while (q < limit && s[q] is (byte)' ' or (byte)'\t')
        {
            q++;
        }

        return q < limit && q > p && nameEnd > p && s[q] == (byte)':' ? q : -1;
    }

    private static int LineEnd(ReadOnlySpan<byte> s, int p)
    {
        var i = s[p..].IndexOf((byte)'\n');
        return i < 0 ? s.Length : p + i + 1;
    }

    private static string Unfold(ReadOnlySpan<byte> value)
    {
        Span<byte> buffer = value.Length <= 1024 ? stackalloc byte[value.Length] : new byte[value.Length];
        var n = 0;
        foreach (var b in value)
        {
            if (b is not ((byte)'\r' or (byte)'\n'))
            {
                buffer[n++] = b;
            }
        }

        var text = buffer[..n].Trim(" \t"u8);
        return HeaderValueParser.Decode(text, null);
    }
}
