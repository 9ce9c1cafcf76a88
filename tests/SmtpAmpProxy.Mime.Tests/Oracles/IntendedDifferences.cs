using System.Text;
using SmtpAmpProxy.Mime.Model;

namespace SmtpAmpProxy.Mime.Tests.Oracles;

/// <summary>
/// The places where our reading of a message is meant to differ from MimeKit's, each with its reason
/// and an example (README, "Intended differences from MimeKit"). A difference is excused only when
/// the entity where it shows, or one that encloses it, has the named condition; anything else is a
/// new difference and fails the test.
/// </summary>
internal sealed record IntendedDifference(string Name, string Reason, string Example, bool Inherited, Func<MimeEntity, bool> HoldsOn)
{
    // Declared before the list: static fields initialize in text order.
    private static readonly System.Text.RegularExpressions.Regex TextAfterQuotedBoundary =
        new("boundary\\s*=\\s*\"[^\"]*\"\\s*[^;\\s]", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    public static readonly IReadOnlyList<IntendedDifference> All =
    [
        new("header-ends-at-non-field-line",
            "RFC 5322 §2.2 / RFC 2045 §3: a header block is fields and folded lines; we end it at the first line that is " +
            "neither (a line of white space, `--`, a stray delimiter) and read the rest as body. MimeKit folds a white-space " +
            "line into the field before it, skips lines without a colon, or refuses the message when the first line is not a field.",
            "Content-Type: text/plain\r\n--\r\nbody\r\n",
            Inherited: true,
            HeaderEndsWithoutBlankLine),
        new("missing-close-delimiter",
            "RFC 2046 §5.1.1 gives the line end before a delimiter to the delimiter; when the close delimiter never comes we " +
            "give the message's last line end to it as well, so the writer can re-assemble the part the same way. MimeKit keeps " +
            "it in the last part's content.",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nlast part\r\n",
            Inherited: true,
            e => e.IsMultipart && !e.HasCloseDelimiter),
        new("first-content-type-wins",
            "RFC 2045 allows one Content-Type; with several we read the first field alone, as Python's email does. " +
            "MimeKit keeps the first field's media type but takes a boundary from a later field.",
            "Content-Type: multipart/mixed\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart\r\n--b--\r\n",
            Inherited: false,
            e => CountFields(e, "content-type") > 1),
        new("multipart-without-boundary",
            "RFC 2046 §5.1.1 makes the boundary parameter mandatory; a multipart without one cannot be split, so we read it " +
            "as one leaf. MimeKit makes a multipart with no children.",
            "Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n",
            Inherited: false,
            e => e.ContentType.MediaType == "multipart" && !e.IsMultipart),
        new("unreadable-content-type-is-text-plain",
            "RFC 2045 §5.2: a Content-Type that cannot be read means text/plain; charset=us-ascii. MimeKit reads it as " +
            "application/octet-stream.",
            "Content-Type: garbage-without-slash\r\n\r\nbody\r\n",
            Inherited: false,
            e => CountFields(e, "content-type") > 0 && e.ContentType.MimeType == "text/plain"
                 && !(e.GetHeader("Content-Type") ?? "").StartsWith("text/plain", StringComparison.OrdinalIgnoreCase)),
        new("mbox-from-line",
            "A message that starts with an mbox `From ` separator line: we skip that line and read the fields after it; " +
            "MimeKit refuses the entity (its mbox mode is a separate parser format).",
            "From sender@example.com Mon Jan  1 00:00:00 2024\r\nContent-Type: text/plain\r\n\r\nbody\r\n",
            Inherited: true,
            e => e.Parent is null && e.Source.Span.StartsWith("From "u8)),
        new("part-ends-before-its-blank-line",
            "RFC 2046 §5.1.1: body-part := MIME-part-headers [CRLF *OCTET], so a delimiter right after another (or right " +
            "after a part's fields) closes a part with no body; we keep that part, so every byte stays in the tree and " +
            "the writer re-emits it. MimeKit drops it.",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\nsecond\r\n--b--\r\n",
            Inherited: false,
            e => e.Children.Any(c => c.BodyLength == 0 && !EndsWithBlankLine(c.HeaderBytes.Span))),
        new("continuation-line-before-first-field",
            "A message whose first line starts with white space (a fold with no field to continue): we skip it and read " +
            "the fields after it. MimeKit refuses the message.",
            " \r\nContent-Type: text/plain\r\n\r\nbody\r\n",
            Inherited: true,
            e => e.Parent is null && e.Source.Length > 0 && e.Source.Span[0] is (byte)' ' or (byte)'\t'),
        new("text-after-quoted-parameter",
            "RFC 2045 §5.1: a parameter value is a token or a quoted-string; text glued after the closing quote " +
            "(`boundary=\"b\"x`) is ignored and the quoted value kept, so the parts still split. MimeKit drops the parameter.",
            "Content-Type: multipart/mixed; boundary=\"b\"x\r\n\r\n--b\r\n\r\npart\r\n--b--\r\n",
            Inherited: false,
            e => TextAfterQuotedBoundary.IsMatch(e.GetHeader("Content-Type") ?? "")),
    ];

    /// <summary>The named differences that excuse <paramref name="difference"/>; empty when it is new.</summary>
    public static IReadOnlyList<IntendedDifference> Excusing(MimeEntity root, TreeDifference difference)
    {
        var chain = Chain(root, difference.Path);
        var at = chain[^1];

        // A part MimeKit reads as nothing at all (no field, no content) is dropped from its parent: the
        // difference then shows as a child count at the parent, while the cause is in one of its children.
        var children = difference.What.Contains(" children vs ", StringComparison.Ordinal) ? at.Children : [];
        return All.Where(d => d.HoldsOn(at) || (d.Inherited && (chain.Any(d.HoldsOn) || children.Any(d.HoldsOn)))).ToList();
    }

    /// <summary>The entities from the root down to <paramref name="path"/> (or as far down as our tree goes).</summary>
    private static List<MimeEntity> Chain(MimeEntity root, string path)
    {
        var chain = new List<MimeEntity> { root };
        foreach (var step in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var index = int.Parse(step, System.Globalization.CultureInfo.InvariantCulture) - 1;
            if (index >= chain[^1].Children.Count)
            {
                break;
            }

            chain.Add(chain[^1].Children[index]);
        }

        return chain;
    }

    private static bool HeaderEndsWithoutBlankLine(MimeEntity e) => e.BodyLength > 0 && !EndsWithBlankLine(e.HeaderBytes.Span);

    private static bool EndsWithBlankLine(ReadOnlySpan<byte> h) =>
        h.EndsWith("\n\r\n"u8) || h.EndsWith("\n\n"u8) || h.SequenceEqual("\r\n"u8) || h.SequenceEqual("\n"u8);

    private static int CountFields(MimeEntity e, string lowerName)
    {
        var count = 0;
        foreach (var line in Encoding.Latin1.GetString(e.HeaderBytes.Span).Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].TrimEnd().ToLowerInvariant() == lowerName)
            {
                count++;
            }
        }

        return count;
    }
}
