namespace SmtpAmpProxy.Dkim;

/// <summary>
/// Byte-range arithmetic over a message held as segments (a repaired message is assembled from
/// slices of the received buffer), so nothing here needs the message in one contiguous buffer.
/// </summary>
internal static class MessageSegments
{
    public static long TotalLength(IReadOnlyList<ReadOnlyMemory<byte>> segments)
    {
        long total = 0;
        foreach (var segment in segments)
        {
            total += segment.Length;
        }

        return total;
    }

    /// <summary>
    /// Where the top-level header block ends: <c>HeaderEnd</c> is just past the CRLF of the last field,
    /// <c>BodyStart</c> just past the empty line (RFC 5322 §2.1). Without an empty line the whole
    /// message is header and the body is empty.
    /// </summary>
    public static (long HeaderEnd, long BodyStart) FindHeaderEnd(IReadOnlyList<ReadOnlyMemory<byte>> segments)
    {
        ReadOnlySpan<byte> pattern = "\r\n\r\n"u8;

        // A virtual CRLF before the message lets one search find an empty header block too: a
        // message that starts with CRLF matches at offset -2.
        Span<byte> tail = stackalloc byte[3];
        tail[0] = (byte)'\r';
        tail[1] = (byte)'\n';
        var tailLength = 2;
        long tailStart = -2;
        Span<byte> window = stackalloc byte[6];
        long offset = 0;
        foreach (var segment in segments)
        {
            var span = segment.Span;
            if (span.IsEmpty)
            {
                continue;
            }

            DkimWork.Add(1);
            // A match that starts in the previous bytes and ends in this segment.
            var head = Math.Min(3, span.Length);
            tail[..tailLength].CopyTo(window);
            span[..head].CopyTo(window[tailLength..]);
            var straddle = window[..(tailLength + head)].IndexOf(pattern);
            if (straddle >= 0 && straddle < tailLength)
            {
                return At(tailStart + straddle);
            }

            var inside = span.IndexOf(pattern);
            DkimWork.Add(inside < 0 ? span.Length : inside + 4);
            if (inside >= 0)
            {
                return At(offset + inside);
            }

            // Keep the last three bytes seen: a match may straddle more than one short segment.
            var keep = Math.Min(3, tailLength + span.Length);
            tail[..tailLength].CopyTo(window);
            span[^head..].CopyTo(window[tailLength..]);
            window.Slice(tailLength + head - keep, keep).CopyTo(tail);
            tailLength = keep;
            offset += span.Length;
            tailStart = offset - keep;
        }

        return (offset, offset);

        static (long, long) At(long match) => (match + 2, match + 4);
    }

    /// <summary>Copies <paramref name="length"/> bytes from absolute <paramref name="start"/>: only for small ranges such as a header block.</summary>
    public static byte[] Copy(IReadOnlyList<ReadOnlyMemory<byte>> segments, long start, int length)
    {
        var copy = new byte[length];
        var written = 0;
        foreach (var piece in Slice(segments, start, length))
        {
            piece.Span.CopyTo(copy.AsSpan(written));
            written += piece.Length;
        }

        return copy;
    }

    /// <summary>The slices of the segments that cover [start, start + length).</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Slice(IReadOnlyList<ReadOnlyMemory<byte>> segments, long start, long length)
    {
        var end = start + length;
        long offset = 0;
        foreach (var segment in segments)
        {
            DkimWork.Add(1);
            var segmentEnd = offset + segment.Length;
            if (segmentEnd > start && offset < end && !segment.IsEmpty)
            {
                var from = (int)(Math.Max(start, offset) - offset);
                var to = (int)(Math.Min(end, segmentEnd) - offset);
                yield return segment[from..to];
            }

            offset = segmentEnd;
            if (offset >= end)
            {
                yield break;
            }
        }
    }

    /// <summary>
    /// The message without the given ranges (sorted, not overlapping), as slices of the original
    /// segments: nothing is copied.
    /// </summary>
    /// <remarks>
    /// One walk over segments and ranges together: slicing from the first segment again for every range made
    /// thousands of DKIM-Signature fields in a message of thousands of segments cost their product.
    /// </remarks>
    public static IReadOnlyList<ReadOnlyMemory<byte>> Without(IReadOnlyList<ReadOnlyMemory<byte>> segments, IReadOnlyList<(long Start, long Length)> ranges)
    {
        var result = new List<ReadOnlyMemory<byte>>(segments.Count + ranges.Count);
        var r = 0;
        long offset = 0;
        foreach (var segment in segments)
        {
            var segmentEnd = offset + segment.Length;
            var position = offset;
            while (position < segmentEnd)
            {
                DkimWork.Add(1);
                while (r < ranges.Count && ranges[r].Start + ranges[r].Length <= position)
                {
                    DkimWork.Add(1);
                    r++;
                }

                if (r == ranges.Count || ranges[r].Start >= segmentEnd)
                {
                    result.Add(segment[(int)(position - offset)..]);
                    break;
                }

                var (start, length) = ranges[r];
                if (start > position)
                {
                    result.Add(segment[(int)(position - offset)..(int)(start - offset)]);
                }

                position = Math.Min(segmentEnd, Math.Max(position, start + length));
            }

            offset = segmentEnd;
        }

        return result;
    }
}
