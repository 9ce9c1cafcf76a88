using SmtpAmpProxy.Mime.Model;

namespace SmtpAmpProxy.Mime.Parsing;

/// <summary>
/// The structure of one message. On a crossed limit the tree stops where the limit was met: the entity then
/// being read (and every entity still open around it) runs to the end of the source, so the tree still covers
/// every byte exactly once.
/// </summary>
public sealed class MimeParseResult
{
    internal MimeParseResult(MimeParseStatus status, MimeEntity root, string? error, int partCount, int sourceLength)
    {
        Status = status;
        Root = root;
        Error = error;
        PartCount = partCount;
        SourceLength = sourceLength;
    }

    public MimeParseStatus Status { get; }

    public MimeEntity Root { get; }

    public string? Error { get; }

    /// <summary>Entities in the tree, root included.</summary>
    public int PartCount { get; }

    /// <summary>Length of the parsed source; the writer checks it is given the same bytes.</summary>
    public int SourceLength { get; }
}
