using SmtpAmpProxy.Mime.Model;

namespace SmtpAmpProxy.Mime.Writing;

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
        var children = entity.Children;
        var newline = NewlineOf(entity);
        MimeEntity? previous = null;
        for (var j = 0; j < order.Length; j++)
        {
            var d = entity.DelimiterOffset(j);
            var dLength = children[j].Offset - d;
            if (previous is null)
            {
                Add(d, dLength);
            }
            else
            {
                AddFollower(previous, d, dLength, newline);
            }

            if (_source.Span[d + dLength - 1] != (byte)'\n')
            {
                AddLiteral(newline); // the delimiter line ended the input; now something follows it
            }

            previous = children[order[j]];
            Emit(previous);
        }

        if (entity.HasCloseDelimiter)
        {
            AddFollower(previous!, entity.CloseDelimiterOffset, entity.CloseDelimiterLength, newline);
            return;
        }

        // The original never closed this multipart; now that its parts moved, close it so the result is well
        // formed and the part that is now last cannot run on into what follows.
        var boundary = entity.BoundaryBytes!;
        var literal = new List<byte>(boundary.Length + 8);
        if (NeedsLineEndAfter(previous!))
        {
            literal.AddRange(EndsWithCr(previous!) ? CrLf : newline);
        }

        literal.AddRange("--"u8);
        literal.AddRange(boundary);
        literal.AddRange("--"u8);
        var span = _source.Span;
        var end = entity.Offset + entity.Length;
        if (entity.CloseDelimiterLength > 0 || (end < span.Length && span[end] is not ((byte)'\r' or (byte)'\n')))
        {
            literal.AddRange(newline);
        }

        AddLiteral([.. literal]);
    }

    /// <summary>
    /// Emits a delimiter (or the close delimiter) after a moved child. RFC 2046 §5.1.1 gives the line end before a
    /// delimiter to the delimiter, so whether one belongs here depends on the child, not on the delimiter's old
    /// neighbour: a child that was followed by such a line end gets one; a child that ends at a line start and
    /// had none (an empty part, a header block cut short by the delimiter) must not get one, or a re-read would
    /// take it as the child's blank line. Either way the child re-reads byte for byte.
    /// </summary>
    private void AddFollower(MimeEntity child, int offset, int length, byte[] newline)
    {
        var span = _source.Span;
        var leading = length > 0 && span[offset] == (byte)'\n' ? 1
            : length > 1 && span[offset] == (byte)'\r' && span[offset + 1] == (byte)'\n' ? 2
            : 0;
        var needed = NeedsLineEndAfter(child);
        if (needed)
        {
            if (leading == 0)
            {
                AddLiteral(EndsWithCr(child) ? CrLf : newline);
            }
            else if (leading == 1 && EndsWithCr(child))
            {
                AddLiteral(Cr); // else the child's last CR and the delimiter's LF would read as one CRLF
            }
        }
        else
        {
            offset += leading;
            length -= leading;
        }

        Add(offset, length);
    }

    private bool EndsWithCr(MimeEntity child) =>
        child.Length > 0 && _source.Span[child.Offset + child.Length - 1] == (byte)'\r';

    private bool NeedsLineEndAfter(MimeEntity child)
    {
        var span = _source.Span;
        var end = child.Offset + child.Length;
        var hadOne = end < span.Length && span[end] is (byte)'\r' or (byte)'\n';
        var endsAtLineStart = child.Length == 0 || span[end - 1] == (byte)'\n'; // an empty child starts a line: see EmitReordered
        return hadOne || !endsAtLineStart;
    }

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
    private static readonly byte[] Cr = "\r"u8.ToArray();

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
