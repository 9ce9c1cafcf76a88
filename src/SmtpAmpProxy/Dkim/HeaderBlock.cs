using System.Text;

namespace SmtpAmpProxy.Dkim;

/// <summary>One field of the top-level header block: its lower-case name and where its raw bytes are.</summary>
/// <param name="Name">Lower-case field name; empty for a line that is no field (no colon).</param>
/// <param name="Offset">Offset of the field in the message (the header block starts the message).</param>
/// <param name="Length">The whole field, continuation lines and the final CRLF included.</param>
/// <param name="ValueOffset">Offset of the first byte after the colon.</param>
internal readonly record struct HeaderField(string Name, int Offset, int Length, int ValueOffset);

/// <summary>
/// The top-level header block, copied out of the segments (header blocks are small and bounded by
/// the MIME limits; the body is never copied) and split into fields (RFC 5322 §2.2).
/// </summary>
internal sealed class HeaderBlock
{
    private HeaderBlock(byte[] bytes, long bodyStart, IReadOnlyList<HeaderField> fields)
    {
        Bytes = bytes;
        BodyStart = bodyStart;
        Fields = fields;
    }

    /// <summary>The header block up to and including the CRLF of its last field (not the empty line).</summary>
    public byte[] Bytes { get; }

    /// <summary>Offset of the first body byte in the message.</summary>
    public long BodyStart { get; }

    public IReadOnlyList<HeaderField> Fields { get; }

    public static HeaderBlock Read(IReadOnlyList<ReadOnlyMemory<byte>> message)
    {
        var (headerEnd, bodyStart) = MessageSegments.FindHeaderEnd(message);
        var bytes = MessageSegments.Copy(message, 0, checked((int)headerEnd));
        return new HeaderBlock(bytes, bodyStart, Split(bytes));
    }

    public ReadOnlySpan<byte> Raw(HeaderField field) => Bytes.AsSpan(field.Offset, field.Length);

    /// <summary>Everything after the colon, folding kept, the final CRLF left out.</summary>
    public ReadOnlySpan<byte> Value(HeaderField field)
    {
        var end = field.Offset + field.Length;
        if (end - field.ValueOffset >= 2 && Bytes[end - 2] == '\r' && Bytes[end - 1] == '\n')
        {
            end -= 2;
        }

        return Bytes.AsSpan(field.ValueOffset, Math.Max(0, end - field.ValueOffset));
    }

    /// <summary>The value unfolded (RFC 5322 §2.2.3: CRLF before white space removed) and trimmed, as text.</summary>
    public string UnfoldedValue(HeaderField field)
    {
        var value = Value(field);
        DkimWork.Add(value.Length);
        var text = new StringBuilder(value.Length);
        foreach (var b in value)
        {
            if (b is not ((byte)'\r' or (byte)'\n'))
            {
                text.Append((char)b);
            }
        }

        // Bytes went in one char each; UTF-8 (RFC 6532) is decoded once here so non-ASCII survives.
        var latin = text.ToString().Trim(' ', '\t');
        return Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(latin));
    }

    private static List<HeaderField> Split(byte[] bytes)
    {
        var fields = new List<HeaderField>();
        var start = 0;
        while (start < bytes.Length)
        {
            // A field runs on over continuation lines that start with white space.
            var end = LineEnd(bytes, start);
            while (end < bytes.Length && bytes[end] is (byte)' ' or (byte)'\t')
            {
                end = LineEnd(bytes, end);
            }

            var firstLine = bytes.AsSpan(start, LineEnd(bytes, start) - start);
            var colon = firstLine.IndexOf((byte)':');
            var name = "";
            var valueOffset = start + firstLine.Length;
            if (colon > 0 && firstLine[0] is not ((byte)' ' or (byte)'\t'))
            {
                // RFC 5322 §4.5.3 obsolete syntax allows white space before the colon.
                name = Encoding.Latin1.GetString(firstLine[..colon].TrimEnd(" \t"u8)).ToLowerInvariant();
                valueOffset = start + colon + 1;
            }

            fields.Add(new HeaderField(name, start, end - start, valueOffset));
            start = end;
        }

        return fields;
    }

    private static int LineEnd(byte[] bytes, int start)
    {
        var newline = bytes.AsSpan(start).IndexOf((byte)'\n');
        var end = newline < 0 ? bytes.Length : start + newline + 1;
        DkimWork.Add(1 + end - start);
        return end;
    }
}
