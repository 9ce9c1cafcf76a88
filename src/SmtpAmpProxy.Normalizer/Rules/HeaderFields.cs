using System.Text;

namespace SmtpAmpProxy.Normalizer;

/// <summary>
/// Reads one field from a raw header block. The Mime contract exposes the content type but not
/// Content-ID, which RFC 2387 section 3.2 needs to find the root named by multipart/related's
/// <c>start</c> parameter.
/// </summary>
internal static class HeaderFields
{
    /// <summary>The unfolded value of the first field named <paramref name="name"/>, or null.</summary>
    public static string? Find(ReadOnlySpan<byte> headerBlock, ReadOnlySpan<byte> name)
    {
        int pos = 0;
        while (pos < headerBlock.Length)
        {
            int lineEnd = LineEnd(headerBlock, pos, out int next);
            var line = headerBlock[pos..lineEnd];
            if (line.IsEmpty)
            {
                return null;
            }

            int colon = line.IndexOf((byte)':');
            if (colon > 0 && line[0] is not ((byte)' ' or (byte)'\t')
                && Ascii.EqualsIgnoreCase(line[..colon].TrimEnd(" \t"u8), name))
            {
                // RFC 5322 section 2.2.3: a field continues on lines that start with white space.
                var value = new StringBuilder(Encoding.Latin1.GetString(line[(colon + 1)..]));
                pos = next;
                while (pos < headerBlock.Length && headerBlock[pos] is (byte)' ' or (byte)'\t')
                {
                    lineEnd = LineEnd(headerBlock, pos, out next);
                    value.Append(Encoding.Latin1.GetString(headerBlock[pos..lineEnd]));
                    pos = next;
                }

                return value.ToString().Trim();
            }

            pos = next;
        }

        return null;
    }

    /// <summary>A msg-id without angle brackets and surrounding white space, for comparison.</summary>
    public static string NormalizeMessageId(string value)
    {
        var id = value.AsSpan().Trim();
        if (id.Length >= 2 && id[0] == '<' && id[^1] == '>')
        {
            id = id[1..^1].Trim();
        }

        return id.ToString();
    }

    private static int LineEnd(ReadOnlySpan<byte> block, int pos, out int next)
    {
        int lf = block[pos..].IndexOf((byte)'\n');
        if (lf < 0)
        {
            next = block.Length;
            return block.Length;
        }

        next = pos + lf + 1;
        int end = pos + lf;
        return end > pos && block[end - 1] == '\r' ? end - 1 : end;
    }
}
