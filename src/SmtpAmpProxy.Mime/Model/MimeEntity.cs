using System.Globalization;
using SmtpAmpProxy.Mime.Parsing;

namespace SmtpAmpProxy.Mime.Model;

/// <summary>
/// One entity of a message as byte ranges of the source. Layout of a multipart body (RFC 2046 §5.1.1):
/// preamble, then per child its delimiter line (with the line end before it, which RFC 2046 assigns to the
/// delimiter) and the child's bytes, then the close delimiter and the epilogue.
/// </summary>
public sealed class MimeEntity
{
    private static readonly MimeEntity[] NoChildren = [];

    private List<MimeEntity>? _children;
    private List<int>? _delimiterOffsets;
    private string? _path;

    internal MimeEntity(ReadOnlyMemory<byte> source, MimeEntity? parent, int offset, int depth)
    {
        Source = source;
        Parent = parent;
        Offset = offset;
        Depth = depth;
        IndexInParent = parent is null ? -1 : parent.Children.Count;
        ContentType = ContentType.Default;
    }

    /// <summary>Start of this entity's header block in the source.</summary>
    public int Offset { get; }

    /// <summary>Whole entity (headers and body), excluding the line end before the next delimiter.</summary>
    public int Length { get; internal set; }

    /// <summary>First byte of the body (after the blank line, or where a header block without one stopped).</summary>
    public int BodyOffset { get; internal set; }

    public int BodyLength => Offset + Length - BodyOffset;

    /// <summary>Header fields and the blank line that ends them: <c>BodyOffset - Offset</c> bytes from <see cref="Offset"/>.</summary>
    public int HeaderLength => BodyOffset - Offset;

    public int Depth { get; }

    public ContentType ContentType { get; internal set; }

    /// <summary>Lower-case Content-Transfer-Encoding token, null when absent.</summary>
    public string? TransferEncoding { get; internal set; }

    /// <summary>Lower-case Content-Disposition type ("attachment", "inline"), null when absent.</summary>
    public string? Disposition { get; internal set; }

    /// <summary>multipart/* with a non-empty boundary parameter.</summary>
    public bool IsMultipart => Boundary is not null;

    public string? Boundary { get; internal set; }

    /// <summary>Empty for leaves, message/rfc822 and message/global (never descended into).</summary>
    public IReadOnlyList<MimeEntity> Children => (IReadOnlyList<MimeEntity>?)_children ?? NoChildren;

    public MimeEntity? Parent { get; }

    /// <summary>Position in <c>Parent.Children</c> (0-based), -1 for the root.</summary>
    public int IndexInParent { get; }

    /// <summary>
    /// Location for logs: "/" for the root, "/2" for its second child, "/2/1" for that child's first child
    /// (1-based, like IMAP part numbers).
    /// </summary>
    public string Path => _path ??= Parent is null
        ? "/"
        : (Parent.Parent is null ? "/" : Parent.Path + "/") + (IndexInParent + 1).ToString(CultureInfo.InvariantCulture);

    /// <summary>Bytes between the body start and the first delimiter (including its line end): multiparts only.</summary>
    public int PreambleLength { get; internal set; }

    /// <summary>Start of the close delimiter (with the line end before it), or where it is missing.</summary>
    public int CloseDelimiterOffset { get; internal set; }

    /// <summary>
    /// Close delimiter line with its leading and trailing line ends; when it is missing, the final line end of the
    /// message (RFC 2046 gives it to the absent delimiter) or zero.
    /// </summary>
    public int CloseDelimiterLength { get; internal set; }

    public bool HasCloseDelimiter { get; internal set; }

    public int EpilogueOffset => CloseDelimiterOffset + CloseDelimiterLength;

    public int EpilogueLength => IsMultipart ? Offset + Length - EpilogueOffset : 0;

    /// <summary>The whole entity.</summary>
    public ReadOnlyMemory<byte> Bytes => Source.Slice(Offset, Length);

    public ReadOnlyMemory<byte> HeaderBytes => Source.Slice(Offset, HeaderLength);

    public ReadOnlyMemory<byte> BodyBytes => Source.Slice(BodyOffset, BodyLength);

    /// <summary>
    /// First header field of that name (case-insensitive), unfolded (RFC 5322 §2.2.3) and trimmed; null when
    /// absent. Bytes decode as UTF-8 (RFC 6532) or, when not valid UTF-8, as Latin-1.
    /// </summary>
    public string? GetHeader(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return HeaderReader.GetFirstValue(HeaderBytes.Span, name);
    }

    internal ReadOnlyMemory<byte> Source { get; }

    internal byte[]? BoundaryBytes { get; set; }

    /// <summary>Start of the delimiter (leading line end included) that precedes child <paramref name="index"/>.</summary>
    internal int DelimiterOffset(int index) => _delimiterOffsets![index];

    internal void AddChild(MimeEntity child, int delimiterOffset)
    {
        (_children ??= new List<MimeEntity>(4)).Add(child);
        (_delimiterOffsets ??= new List<int>(4)).Add(delimiterOffset);
    }

    internal void End(int end)
    {
        Length = end - Offset;
        if (BodyOffset > end)
        {
            BodyOffset = end;
        }

        if (Boundary is not null && _children is null && !HasCloseDelimiter)
        {
            // A multipart whose first delimiter never came (or that a limit kept the scan out of): all preamble.
            PreambleLength = end - BodyOffset;
            CloseDelimiterOffset = end;
            CloseDelimiterLength = 0;
        }
    }

    public override string ToString() => $"{Path} {ContentType.MimeType} [{Offset}+{Length}]";
}
