namespace SmtpAmpProxy.Mime;

/// <summary>
/// Walks the tree and emits source ranges; adjacent ranges merge, so an unedited message is one segment.
/// An edited multipart keeps its header, preamble, delimiter lines (in their original positions), close
/// delimiter and epilogue; only which child follows which delimiter changes.
/// </summary>
internal sealed class SegmentBuilder
{
    private readonly ReadOnlyMemory<byte> _source;
    private readonly MimeRewrite _rewrite;
    private readonly List<ReadOnlyMemory<byte>> _segments = new(8);
    private int _pendingStart;
    private int _pendingEnd;

    private SegmentBuilder(ReadOnlyMemory<byte> source, MimeRewrite rewrite)
    {
        _source = source;
        _rewrite = rewrite;
    }

    /// <summary>Segments without the identity safety net of <see cref="MimeWriter.GetSegments"/> (tests see the raw walk).</summary>
    public static List<ReadOnlyMemory<byte>> Build(ReadOnlyMemory<byte> source, MimeEntity root, MimeRewrite rewrite)
    {
        var builder = new SegmentBuilder(source, rewrite);
        builder.Emit(root);
        builder.Flush();
        return builder._segments;
    }

    private void Emit(MimeEntity entity)
    {
        var children = entity.Children;
        if (children.Count == 0)
        {
            Add(entity.Offset, entity.Length);
            return;
        }

        var order = _rewrite.IsEmpty ? null : _rewrite.Find(entity);
        Add(entity.Offset, entity.BodyOffset + entity.PreambleLength - entity.Offset);
        if (order is null)
        {
            for (var i = 0; i < children.Count; i++)
            {
                var d = entity.DelimiterOffset(i);
                Add(d, children[i].Offset - d);
                Emit(children[i]);
            }

            Add(entity.CloseDelimiterOffset, entity.CloseDelimiterLength);
        }
        else
        {
            EmitReordered(entity, order);
        }

        Add(entity.EpilogueOffset, entity.EpilogueLength);
    }

    private void EmitReordered(MimeEntity entity, int[] order)
    {
        var span = _source.Span;
        var children = entity.Children;
        var newline = NewlineOf(entity);
        for (var j = 0; j < order.Length; j++)
        {
            var d = entity.DelimiterOffset(j);
            var dLength = children[j].Offset - d;

            // RFC 2046 §5.1.1: a delimiter must start a line, and the line end before it is the delimiter's.
            // A delimiter that had none (it followed an empty part) gets one, so the child before it keeps its bytes.
            if (j > 0 && !StartsWithNewline(span, d, dLength))
            {
                AddLiteral(newline);
            }

            Add(d, dLength);
            Emit(children[order[j]]);
        }

        var closeOffset = entity.CloseDelimiterOffset;
        var closeLength = entity.CloseDelimiterLength;
        if (entity.HasCloseDelimiter)
        {
            if (!StartsWithNewline(span, closeOffset, closeLength))
            {
                AddLiteral(newline);
            }

            Add(closeOffset, closeLength);
            return;
        }

        // The original never closed this multipart; now that its parts moved, close it so the result is well
        // formed and the part that is now last cannot run on into what follows.
        var boundary = entity.BoundaryBytes!;
        var literal = new List<byte>(boundary.Length + 8);
        if (closeLength > 0)
        {
            Add(closeOffset, closeLength); // the message's final line end, now before the close delimiter
        }
        else
        {
            literal.AddRange(newline);
        }

        literal.AddRange("--"u8);
        literal.AddRange(boundary);
        literal.AddRange("--"u8);
        var end = entity.Offset + entity.Length;
        if (closeLength > 0 || (end < span.Length && span[end] is not ((byte)'\r' or (byte)'\n')))
        {
            literal.AddRange(newline);
        }

        AddLiteral([.. literal]);
    }

    private static bool StartsWithNewline(ReadOnlySpan<byte> span, int offset, int length) =>
        length > 0 && span[offset] is (byte)'\r' or (byte)'\n';

    /// <summary>Line ends written as the multipart writes its own delimiter lines (CRLF unless it uses bare LF).</summary>
    private byte[] NewlineOf(MimeEntity entity)
    {
        var span = _source.Span;
        var afterFirstDelimiter = entity.Children[0].Offset;
        if (afterFirstDelimiter >= 1 && span[afterFirstDelimiter - 1] == (byte)'\n'
            && (afterFirstDelimiter < 2 || span[afterFirstDelimiter - 2] != (byte)'\r'))
        {
            return Lf;
        }

        return CrLf;
    }

    private static readonly byte[] CrLf = "\r\n"u8.ToArray();
    private static readonly byte[] Lf = "\n"u8.ToArray();

    private void Add(int offset, int length)
    {
        if (length <= 0)
        {
            return;
        }

        if (_pendingEnd > _pendingStart && _pendingEnd == offset)
        {
            _pendingEnd += length;
            return;
        }

        Flush();
        _pendingStart = offset;
        _pendingEnd = offset + length;
    }

    private void AddLiteral(byte[] bytes)
    {
        Flush();
        _segments.Add(bytes);
    }

    private void Flush()
    {
        if (_pendingEnd > _pendingStart)
        {
            _segments.Add(_source[_pendingStart.._pendingEnd]);
        }

        _pendingStart = _pendingEnd = 0;
    }
}
