using SmtpAmpProxy.Mime.Parsing;

namespace SmtpAmpProxy.Mime.Writing;

public static class MimeWriter
{
    /// <summary>
    /// The output as segments: slices of <paramref name="source"/> for every unchanged byte range, small literal
    /// arrays only where bytes must be synthesized. With an empty rewrite the segments concatenate to
    /// <paramref name="source"/> byte for byte, for any input. No body byte is copied.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> is not the message <paramref name="parsed"/> was read from.</exception>
    public static IReadOnlyList<ReadOnlyMemory<byte>> GetSegments(ReadOnlyMemory<byte> source, MimeParseResult parsed, MimeRewrite rewrite)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        ArgumentNullException.ThrowIfNull(rewrite);
        if (source.Length != parsed.SourceLength)
        {
            throw new ArgumentException("The source is not the message that was parsed.", nameof(source));
        }

        var segments = SegmentBuilder.Build(source, parsed.Root, rewrite);
        if (rewrite.IsEmpty && (segments.Count != 1 || segments[0].Length != source.Length))
        {
            // Transparency first: should the tree ever fail to tile the source, the unchanged message still goes out.
            return [source];
        }

        return segments;
    }

    public static void Write(ReadOnlyMemory<byte> source, MimeParseResult parsed, MimeRewrite rewrite, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        foreach (var segment in GetSegments(source, parsed, rewrite))
        {
            destination.Write(segment.Span);
        }
    }
}
