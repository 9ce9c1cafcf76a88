using System.Text;
using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Tests.Support;
using Kit = MimeKit;

namespace SmtpAmpProxy.Mime.Tests.Oracles;

/// <summary>
/// What a MIME reader saw, reduced to what the two readers must agree on: the tree's shape, each
/// entity's media type, each multipart's boundary, and each leaf's content bytes (still
/// transfer-encoded, as they stand in the message). A message/rfc822 part is a leaf: the proxy never
/// descends into somebody else's message.
/// </summary>
internal sealed record ReadTree(string Kind, string MimeType, string? Boundary, byte[]? Content, IReadOnlyList<ReadTree> Children)
{
    public const string Multipart = "multipart";
    public const string Leaf = "leaf";
    public const string Message = "message";
    public const string Unreadable = "unreadable";

    public static ReadTree FromOurs(MimeEntity entity)
    {
        var type = entity.ContentType.MimeType;
        if (entity.IsMultipart)
        {
            return new(Multipart, type, entity.Boundary, null, entity.Children.Select(FromOurs).ToArray());
        }

        var kind = type is "message/rfc822" or "message/global" ? Message : Leaf;
        return new(kind, type, null, entity.BodyBytes.ToArray(), []);
    }

    public static ReadTree Ours(byte[] message) => FromOurs(MimeParser.Parse(message, MimeTest.Limits).Root);

    /// <summary>MimeKit's reading; a message part's content is its byte range in the source, taken from the parser's events.</summary>
    public static ReadTree MimeKit(byte[] message)
    {
        using var stream = new MemoryStream(message, writable: false);
        var parser = new Kit.MimeParser(stream, Kit.MimeFormat.Entity, persistent: false);
        var ranges = new Dictionary<Kit.MimeEntity, (long HeadersEnd, long End)>(ReferenceEqualityComparer.Instance);
        parser.MimeEntityEnd += (_, e) => ranges[e.Entity] = (e.HeadersEndOffset, e.EndOffset);
        Kit.MimeEntity root;
        try
        {
            root = parser.ParseEntity();
        }
        catch (FormatException e)
        {
            // MimeKit refuses some inputs outright (no header field at all); we read those as a text/plain body.
            return new(Unreadable, e.Message, null, null, []);
        }

        return FromMimeKit(root, message, ranges);
    }

    private static ReadTree FromMimeKit(Kit.MimeEntity entity, byte[] source, Dictionary<Kit.MimeEntity, (long HeadersEnd, long End)> ranges)
    {
        var type = entity.ContentType.MimeType.ToLowerInvariant();
        switch (entity)
        {
            case Kit.Multipart multipart:
                return new(Multipart, type, multipart.Boundary, null, multipart.Select(c => FromMimeKit(c, source, ranges)).ToArray());
            case Kit.MessagePart:
                var (start, end) = ranges[entity];
                if (end > start && end < source.Length && source[end - 1] == '\r' && source[end] == '\n')
                {
                    // MimeKit's end offset of an inner message without a body can fall between the CR and LF
                    // of the line end before the next delimiter; a line end is one unit to both readers.
                    end--;
                }

                return new(Message, type, null, source[(int)start..(int)end], []);
            case Kit.MimePart part:
                using (var content = new MemoryStream())
                {
                    if (part.Content?.Stream is { } stream)
                    {
                        stream.Position = 0;
                        stream.CopyTo(content);
                    }

                    return new(Leaf, type, null, content.ToArray(), []);
                }

            default:
                return new(Leaf, type, null, [], []);
        }
    }

    /// <summary>Every place the two trees part ways (a node whose shape differs is not descended into).</summary>
    public static List<TreeDifference> Differences(ReadTree ours, ReadTree theirs)
    {
        var found = new List<TreeDifference>();
        Compare(ours, theirs, "/", found);
        return found;
    }

    private static void Compare(ReadTree ours, ReadTree theirs, string path, List<TreeDifference> found)
    {
        string? what = null;
        if (ours.Kind != theirs.Kind)
        {
            what = $"kind {ours.Kind} ({ours.MimeType}) vs {theirs.Kind} ({theirs.MimeType})";
        }
        else if (ours.MimeType != theirs.MimeType)
        {
            what = $"type {ours.MimeType} vs {theirs.MimeType}";
        }
        else if (ours.Boundary != theirs.Boundary)
        {
            what = $"boundary [{ours.Boundary}] vs [{theirs.Boundary}]";
        }
        else if (ours.Children.Count != theirs.Children.Count)
        {
            what = $"{ours.Children.Count} children vs {theirs.Children.Count}";
        }
        else if (ours.Content is not null && !ours.Content.AsSpan().SequenceEqual(theirs.Content))
        {
            what = $"content: {MimeTest.FirstDifference(ours.Content, theirs.Content)}; ours [{Show(ours.Content)}] vs MimeKit [{Show(theirs.Content!)}]";
        }

        if (what is not null)
        {
            found.Add(new TreeDifference(path, what));
            return;
        }

        for (var i = 0; i < ours.Children.Count; i++)
        {
            Compare(ours.Children[i], theirs.Children[i], path == "/" ? $"/{i + 1}" : $"{path}/{i + 1}", found);
        }
    }

    private static string Show(byte[] bytes)
    {
        var text = Encoding.Latin1.GetString(bytes.AsSpan(0, Math.Min(bytes.Length, 80)));
        return text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + (bytes.Length > 80 ? "…" : "");
    }
}

/// <summary>One place where our reading and MimeKit's part ways; the path is ours ("/2/1").</summary>
internal sealed record TreeDifference(string Path, string What)
{
    public override string ToString() => $"{Path}: {What}";
}
