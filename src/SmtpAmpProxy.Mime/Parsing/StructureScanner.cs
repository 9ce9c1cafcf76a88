using SmtpAmpProxy.Mime.Model;

namespace SmtpAmpProxy.Mime.Parsing;

/// <summary>
/// One pass over a message. Multiparts open while the scan is inside them are kept on an explicit stack
/// (never recursion, so no nesting depth can overflow the thread stack). Body bytes are only searched for
/// "\n--" with a vectorised IndexOf; lines are examined one by one only inside header blocks.
/// </summary>
internal ref struct StructureScanner
{
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _src;
    private readonly MimeLimits _limits;
    private readonly List<Frame> _frames = new(4);
    private int _parts;
    private int _regionStart;
    private MimeParseStatus _status;
    private string? _error;

    public StructureScanner(ReadOnlyMemory<byte> memory, MimeLimits limits)
    {
        _memory = memory;
        _src = memory.Span;
        _limits = limits;
    }

    public MimeParseResult Run()
    {
        var len = _src.Length;
        var root = new MimeEntity(_memory, null, 0, 0);
        _parts = 1;
        if (ReadHeaders(root, digestParent: false) is HeaderEnd.Body or HeaderEnd.End)
        {
            if (root.IsMultipart && TryEnter(root))
            {
                Scan(root.BodyOffset);
            }
        }

        if (_frames.Count > 0)
        {
            CloseAtEnd();
        }

        root.End(len);
        return new MimeParseResult(_status, root, _error, _parts, len);
    }

    private void Scan(int pos)
    {
        var len = _src.Length;
        while (_frames.Count > 0)
        {
            if (!FindDelimiter(pos, out var line, out var frameIndex, out var isClose, out var lineEnd))
            {
                CloseAtEnd();
                return;
            }

            if (!isClose && _parts >= _limits.MaxParts)
            {
                Fail(MimeParseStatus.PartCountExceeded, $"more than MaxParts ({_limits.MaxParts}) entities; stopped at offset {line}");
                CloseAtEnd();
                return;
            }

            var x = LeadingLineEnd(line);
            CloseChain(frameIndex, x);
            var frame = _frames[^1];
            var multipart = frame.Entity;
            if (isClose)
            {
                multipart.CloseDelimiterOffset = x;
                multipart.CloseDelimiterLength = lineEnd - x;
                multipart.HasCloseDelimiter = true;
                _frames.RemoveAt(_frames.Count - 1);

                // The multipart stays its parent's open child until an outer delimiter: its epilogue runs until then.
                _regionStart = lineEnd;
                pos = lineEnd;
                continue;
            }

            var child = new MimeEntity(_memory, multipart, lineEnd, multipart.Depth + 1);
            multipart.AddChild(child, x);
            frame.Pending = child;
            _parts++;
            var headers = ReadHeaders(child, multipart.ContentType.Is("multipart", "digest"));
            if (headers == HeaderEnd.LimitCrossed)
            {
                _regionStart = len;
                CloseAtEnd();
                return;
            }

            pos = child.BodyOffset;
            if (headers != HeaderEnd.Body)
            {
                // No blank line and no body (a delimiter or the end came first): the line end before the delimiter
                // is the delimiter's (RFC 2046 §5.1.1), as after any other content.
                _regionStart = child.Offset;
                continue;
            }

            _regionStart = pos;
            if (child.IsMultipart && !TryEnter(child))
            {
                CloseAtEnd();
                return;
            }
        }
    }

    private bool TryEnter(MimeEntity multipart)
    {
        if (multipart.Depth >= _limits.MaxDepth)
        {
            Fail(MimeParseStatus.DepthExceeded,
                $"multipart nesting deeper than MaxDepth ({_limits.MaxDepth}) at {multipart.Path} (offset {multipart.Offset})");
            return false;
        }

        _frames.Add(new Frame(multipart, multipart.BoundaryBytes!));
        _regionStart = multipart.BodyOffset;
        return true;
    }

    private void Fail(MimeParseStatus status, string error)
    {
        _status = status;
        _error = error;
    }

    /// <summary>
    /// RFC 2046 §5.1.1: the line end before a delimiter belongs to the delimiter, unless it belongs to something
    /// already closed (the blank line after headers, the previous delimiter line).
    /// </summary>
    private readonly int LeadingLineEnd(int line)
    {
        var x = line;
        if (x - 1 >= _regionStart && _src[x - 1] == (byte)'\n')
        {
            x--;
            if (x - 1 >= _regionStart && _src[x - 1] == (byte)'\r')
            {
                x--;
            }
        }

        return x;
    }

    /// <summary>
    /// A delimiter of frame <paramref name="k"/> at <paramref name="x"/>: every multipart opened inside it has lost
    /// its close delimiter and ends there, and so does frame k's open child (or its preamble).
    /// </summary>
    private void CloseChain(int k, int x)
    {
        for (var j = _frames.Count - 1; j > k; j--)
        {
            var f = _frames[j];
            f.EndRegion(x);
            f.Entity.CloseDelimiterOffset = x;
            f.Entity.CloseDelimiterLength = 0;
            f.Entity.End(x);
            _frames.RemoveAt(j);
        }

        _frames[k].EndRegion(x);
    }

    /// <summary>
    /// End of input with multiparts still open (missing close delimiters, or a limit stopped the scan). As with a
    /// delimiter, the final line end is left out of the open parts: the root keeps it where its close delimiter
    /// would have been, which is also how Python's email package reads it.
    /// </summary>
    private void CloseAtEnd()
    {
        if (_frames.Count == 0)
        {
            return;
        }

        var len = _src.Length;
        var x = len;
        if (x > _regionStart && _src[x - 1] == (byte)'\n')
        {
            x--;
            if (x > _regionStart && _src[x - 1] == (byte)'\r')
            {
                x--;
            }
        }

        CloseChain(0, x);
        var root = _frames[0].Entity;
        root.CloseDelimiterOffset = x;
        root.CloseDelimiterLength = len - x;
        root.End(len);
        _frames.Clear();
    }

    private readonly bool FindDelimiter(int pos, out int line, out int frameIndex, out bool isClose, out int lineEnd)
    {
        line = pos;
        if (IsDelimiter(pos, out frameIndex, out isClose, out lineEnd))
        {
            return true;
        }

        var p = pos;
        while (p < _src.Length)
        {
            var i = _src[p..].IndexOf("\n--"u8);
            ParseWork.Add(i < 0 ? _src.Length - p : i + 3);
            if (i < 0)
            {
                break;
            }

            line = p + i + 1;
            if (IsDelimiter(line, out frameIndex, out isClose, out lineEnd))
            {
                return true;
            }

            p = line;
        }

        return false;
    }

    /// <summary>
    /// RFC 2046 §5.1.1: "--" boundary, optionally "--" (close), then only transport padding to the line end.
    /// The innermost open multipart is tried first: its delimiters take precedence inside it.
    /// </summary>
    private readonly bool IsDelimiter(int line, out int frameIndex, out bool isClose, out int lineEnd)
    {
        var s = _src;
        frameIndex = -1;
        isClose = false;
        lineEnd = line;
        if (line + 2 > s.Length || s[line] != (byte)'-' || s[line + 1] != (byte)'-')
        {
            return false;
        }

        var rest = s[(line + 2)..];
        for (var k = _frames.Count - 1; k >= 0; k--)
        {
            var boundary = _frames[k].Boundary;
            ParseWork.Add(1 + Math.Min(boundary.Length, rest.Length));
            if (!rest.StartsWith(boundary))
            {
                continue;
            }

            var q = line + 2 + boundary.Length;
            var close = false;
            if (q + 1 < s.Length && s[q] == (byte)'-' && s[q + 1] == (byte)'-')
            {
                close = true;
                q += 2;
            }

            while (q < s.Length && s[q] is (byte)' ' or (byte)'\t')
            {
                q++;
            }

            if (q == s.Length)
            {
                lineEnd = q;
            }
            else if (s[q] == (byte)'\n')
            {
                lineEnd = q + 1;
            }
            else if (s[q] == (byte)'\r' && q + 1 < s.Length && s[q + 1] == (byte)'\n')
            {
                lineEnd = q + 2;
            }
            else
            {
                continue;
            }

            frameIndex = k;
            isClose = close;
            return true;
        }

        return false;
    }

    /// <summary>
    /// Reads the header block of <paramref name="entity"/>: up to the blank line, or up to a line that cannot be a
    /// field (no blank line: the body starts there), a delimiter of an open multipart, or the end of input.
    /// </summary>
    private HeaderEnd ReadHeaders(MimeEntity entity, bool digestParent)
    {
        var s = _src;
        var len = s.Length;
        var start = entity.Offset;
        var max = _limits.MaxHeaderBlockBytes;
        var window = (long)start + max >= len ? len : start + max;
        var p = start;
        var body = len;
        Range contentType = default, transferEncoding = default, disposition = default;
        var current = Field.None;
        var seenField = false;
        var blankLine = false;
        var lenient = false;

        while (p < len)
        {
            var b = s[p];
            int lineEnd;
            if (b == (byte)'\n' || (b == (byte)'\r' && p + 1 < len && s[p + 1] == (byte)'\n'))
            {
                lineEnd = p + (b == (byte)'\n' ? 1 : 2);
                if (lineEnd - start > max)
                {
                    return TooLarge(entity);
                }

                body = lineEnd;
                blankLine = true;
                break;
            }

            Field field;
            var valueStart = -1;
            if (b is (byte)' ' or (byte)'\t')
            {
                // RFC 5322 §2.2.3 continuation; before any field it is a broken first line, kept in the block.
                field = seenField ? Field.Continuation : Field.None;
            }
            else if (b == (byte)'-' && IsDelimiter(p, out _, out _, out _))
            {
                entity.BodyOffset = p;
                return ApplyFields(entity, digestParent, contentType, transferEncoding, disposition)
                    ? HeaderEnd.Delimiter
                    : HeaderEnd.LimitCrossed;
            }
            else
            {
                var colon = HeaderReader.FieldColon(s, p, len, out var nameEnd);
                if (colon >= 0)
                {
                    seenField = true;
                    field = Identify(s[p..nameEnd]);
                    valueStart = colon + 1;
                }
                else if (p == 0 && s.StartsWith("From "u8))
                {
                    field = Field.None; // mbox envelope line before the header of a stored message
                }
                else if (!s[p..].StartsWith("--"u8) && (lenient || ContentTypeFollows(p, window)))
                {
                    // Not a field, but a Content-Type comes before the blank line. Parsers disagree: Python's email
                    // starts the body here, MimeKit skips the line and keeps reading fields. The reading
                    // that sees the Content-Type is the one that can find an AMP part, so it is the one judged.
                    lenient = true;
                    field = Field.Other;
                }
                else
                {
                    body = p; // not a field, and no field follows that could change the part's type: the body starts here
                    blankLine = true;
                    break;
                }
            }

            var nl = window > p ? s[p..window].IndexOf((byte)'\n') : -1;
            if (nl < 0)
            {
                if (window < len)
                {
                    return TooLarge(entity);
                }

                lineEnd = len;
            }
            else
            {
                lineEnd = p + nl + 1;
            }

            if (lineEnd - start > max)
            {
                return TooLarge(entity);
            }

            ParseWork.Add(1 + lineEnd - p);
            var contentEnd = lineEnd;
            if (contentEnd > p && s[contentEnd - 1] == (byte)'\n')
            {
                contentEnd--;
                if (contentEnd > p && s[contentEnd - 1] == (byte)'\r')
                {
                    contentEnd--;
                }
            }

            switch (field)
            {
                case Field.Continuation:
                    if (current == Field.ContentType) contentType = new Range(contentType.Start, contentEnd);
                    else if (current == Field.TransferEncoding) transferEncoding = new Range(transferEncoding.Start, contentEnd);
                    else if (current == Field.Disposition) disposition = new Range(disposition.Start, contentEnd);
                    break;
                case Field.ContentType when contentType.Equals(default(Range)):
                    contentType = new Range(valueStart, contentEnd);
                    current = field;
                    break;
                case Field.TransferEncoding when transferEncoding.Equals(default(Range)):
                    transferEncoding = new Range(valueStart, contentEnd);
                    current = field;
                    break;
                case Field.Disposition when disposition.Equals(default(Range)):
                    disposition = new Range(valueStart, contentEnd);
                    current = field;
                    break;
                default:
                    current = Field.None; // other fields, and repeats: the first occurrence counts
                    break;
            }

            p = lineEnd;
        }

        entity.BodyOffset = body;
        if (!ApplyFields(entity, digestParent, contentType, transferEncoding, disposition))
        {
            return HeaderEnd.LimitCrossed;
        }

        return blankLine ? HeaderEnd.Body : HeaderEnd.End;
    }

    /// <summary>
    /// False when the Content-Type crosses <see cref="MimeLimits.MaxParametersPerField"/> or has an ambiguous
    /// boundary: the scan stops there.
    /// </summary>
    private bool ApplyFields(MimeEntity entity, bool digestParent, Range contentType, Range transferEncoding, Range disposition)
    {
        var s = _src;
        ContentType? type = null;
        byte[]? boundary = null;
        if (!contentType.Equals(default(Range)))
        {
            type = HeaderValueParser.ParseContentType(s[contentType], wantBoundary: true, _limits.MaxParametersPerField, out boundary, out var problem);
            if (problem != FieldProblem.None)
            {
                if (problem == FieldProblem.TooManyParameters)
                {
                    Fail(MimeParseStatus.ParameterCountExceeded,
                        $"Content-Type at {entity.Path} (offset {entity.Offset}) has more than MaxParametersPerField ({_limits.MaxParametersPerField}) parameters");
                }
                else
                {
                    Fail(MimeParseStatus.AmbiguousBoundary,
                        $"Content-Type at {entity.Path} (offset {entity.Offset}) has an unquoted boundary with more text after it; parsers read it differently");
                }

                entity.BodyOffset = s.Length;
                return false;
            }
        }

        entity.ContentType = type ?? (digestParent ? ContentType.DigestDefault : ContentType.Default);
        if (boundary is not null && entity.ContentType.MediaType == "multipart")
        {
            entity.BoundaryBytes = boundary;
            entity.Boundary = entity.ContentType.GetParameter("boundary")?.TrimEnd(' ', '\t') ?? System.Text.Encoding.Latin1.GetString(boundary);
        }

        if (!transferEncoding.Equals(default(Range)))
        {
            entity.TransferEncoding = HeaderValueParser.ParseToken(s[transferEncoding]);
        }

        if (!disposition.Equals(default(Range)))
        {
            entity.Disposition = HeaderValueParser.ParseToken(s[disposition]);
        }

        return true;
    }

    /// <summary>
    /// Whether a Content-Type field line follows the line at <paramref name="p"/> before a blank line, a line
    /// starting "--" or the end of the header window. Called at most once per header block, on bytes that block
    /// then takes as header or as the start of its body: the look-ahead adds at most one more pass over them.
    /// </summary>
    private readonly bool ContentTypeFollows(int p, int window)
    {
        var s = _src;
        var q = p;
        while (q < window)
        {
            var nl = s[q..window].IndexOf((byte)'\n');
            var next = nl < 0 ? window : q + nl + 1;
            ParseWork.Add(next - q);
            if (q > p)
            {
                if (s[q] is (byte)'\r' or (byte)'\n' || s[q..].StartsWith("--"u8))
                {
                    return false;
                }

                if (HeaderReader.FieldColon(s, q, next, out var nameEnd) >= 0 && Identify(s[q..nameEnd]) == Field.ContentType)
                {
                    return true;
                }
            }

            q = next;
        }

        return false;
    }

    private HeaderEnd TooLarge(MimeEntity entity)
    {
        Fail(MimeParseStatus.HeaderBlockTooLarge,
            $"header block at {entity.Path} (offset {entity.Offset}) exceeds MaxHeaderBlockBytes ({_limits.MaxHeaderBlockBytes})");
        entity.BodyOffset = _src.Length;
        return HeaderEnd.LimitCrossed;
    }

    private static Field Identify(ReadOnlySpan<byte> name)
    {
        if (name.Length < 12 || !System.Text.Ascii.EqualsIgnoreCase(name[..8], "content-"u8))
        {
            return Field.Other;
        }

        var rest = name[8..];
        if (System.Text.Ascii.EqualsIgnoreCase(rest, "type"u8))
        {
            return Field.ContentType;
        }

        if (System.Text.Ascii.EqualsIgnoreCase(rest, "transfer-encoding"u8))
        {
            return Field.TransferEncoding;
        }

        return System.Text.Ascii.EqualsIgnoreCase(rest, "disposition"u8) ? Field.Disposition : Field.Other;
    }

    private enum HeaderEnd
    {
        /// <summary>A blank line (or a line that cannot be a field) ends the block; a body follows.</summary>
        Body,

        /// <summary>A delimiter of an open multipart cut the block short.</summary>
        Delimiter,

        /// <summary>The input ended inside the block.</summary>
        End,

        /// <summary>A limit was crossed (header block size, parameters per field); the scan stops.</summary>
        LimitCrossed,
    }

    private enum Field
    {
        None,
        Other,
        Continuation,
        ContentType,
        TransferEncoding,
        Disposition,
    }

    private sealed class Frame(MimeEntity entity, byte[] boundary)
    {
        public MimeEntity Entity { get; } = entity;

        public byte[] Boundary { get; } = boundary;

        /// <summary>The child being read, whose end is not known yet; null while in the preamble.</summary>
        public MimeEntity? Pending { get; set; }

        public void EndRegion(int x)
        {
            if (Pending is null)
            {
                Entity.PreambleLength = x - Entity.BodyOffset;
            }
            else
            {
                Pending.End(x);
            }
        }
    }
}
