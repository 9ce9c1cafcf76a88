using CsCheck;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Tests.Oracles;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;
using Kit = MimeKit;

namespace SmtpAmpProxy.Normalizer.Tests.Oracles;

/// <summary>
/// MimeKit reads back every rewrite the normalizer makes, of the corpus and of generated alternatives
/// in every order: in what goes out the AMP part is where the rules want it, and every other part
/// decodes to exactly what it decoded to before. The check uses only MimeKit's reading, so a mistake
/// our own parser shares with our writer cannot hide.
/// </summary>
public sealed class MimeKitRewriteTests
{
    private const string AmpType = "text/x-amp-html";

    private static readonly Gen<Node> Child = Gen.Int[0, 5].Select(kind => kind switch
    {
        0 => (Node)Mail.Plain(),
        1 => Mail.Html(),
        2 => Mail.Amp("first AMP"),
        3 => Mail.Related(Mail.Html("<p>related <img src=\"cid:img1@example.com\"></p>"), Mail.Image()),
        4 => Mail.Amp("second AMP"),
        _ => Mail.Part("text/calendar; charset=utf-8", "BEGIN:VCALENDAR\r\nEND:VCALENDAR"),
    });

    /// <summary>An alternative of one to five children in any order, alone or inside a mixed with an attachment.</summary>
    private static readonly Gen<byte[]> Message = Gen.Select(Child.Array[1, 5], Gen.Int[0, 2], (children, wrap) => Mail.Message(wrap switch
    {
        0 => Mail.Alt(children),
        1 => Mail.Mixed(Mail.Alt(children), Mail.Attachment()),
        _ => Mail.Mixed(Mail.Plain("cover note"), Mail.Related(Mail.Alt(children), Mail.Image())),
    }));

    [Fact]
    public void Rewrite_CorpusMessages_MimeKitSeesCompliantOrderAndUnchangedParts()
    {
        var rewritten = 0;
        var failures = new List<string>();
        foreach (var c in CorpusCase.All())
        {
            var source = File.ReadAllBytes(c.EmlPath);
            if (Check(source) is { } outcome)
            {
                rewritten++;
                if (outcome.Length > 0)
                {
                    failures.Add($"{c.Name}: {outcome}");
                }
            }
        }

        Assert.True(rewritten >= 10, $"only {rewritten} corpus messages were rewritten");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Rewrite_GeneratedAlternatives_MimeKitSeesCompliantOrderAndUnchangedParts()
    {
        var rewritten = 0;
        Message.SampleRepeatable(source =>
        {
            var outcome = Check(source);
            if (outcome is not null)
            {
                Interlocked.Increment(ref rewritten);
                Assert.True(outcome.Length == 0, outcome);
            }
        }, iter: 2000, print: m => System.Text.Encoding.UTF8.GetString(m));

        // Most random orders break a rule the proxy repairs; if none were rewritten the check proved nothing.
        Assert.True(rewritten > 500, $"only {rewritten} of 2000 generated messages were rewritten");
    }

    /// <summary>Null when the normalizer does not rewrite; else "" when MimeKit agrees, or what it found wrong.</summary>
    private static string? Check(byte[] source)
    {
        var result = AmpNormalizer.Normalize(source, new MimeLimits(), new AmpOptions());
        if (result.Verdict != AmpVerdict.Rewrite)
        {
            return null;
        }

        var output = AmpNormalizer.GetOutputSegments(source, result).SelectMany(s => s.ToArray()).ToArray();
        var before = Kit.MimeMessage.Load(new MemoryStream(source));
        var after = Kit.MimeMessage.Load(new MemoryStream(output));
        var problems = new List<string>();

        var headersBefore = before.Headers.Select(h => h.ToString()).ToList();
        var headersAfter = after.Headers.Select(h => h.ToString()).ToList();
        if (!headersBefore.SequenceEqual(headersAfter))
        {
            problems.Add("top-level header fields changed");
        }

        var keptBefore = Leaves(before.Body!).Where(l => l.Type != AmpType).ToList();
        var keptAfter = Leaves(after.Body!).Where(l => l.Type != AmpType).ToList();
        if (!keptBefore.SequenceEqual(keptAfter))
        {
            problems.Add($"non-AMP parts changed: [{string.Join(", ", keptBefore)}] became [{string.Join(", ", keptAfter)}]");
        }

        var ampBefore = Leaves(before.Body!).Where(l => l.Type == AmpType).ToList();
        var ampAfter = Leaves(after.Body!).Where(l => l.Type == AmpType).ToList();
        if (ampAfter.Count == 0 || ampAfter.Except(ampBefore).Any())
        {
            problems.Add("the AMP parts that went out are not AMP parts of the original");
        }

        CheckOrder(after.Body!, problems);
        return string.Join("; ", problems);
    }

    /// <summary>Every leaf in document order as media type and a hash of its decoded content; a message part is a leaf.</summary>
    private static IEnumerable<LeafContent> Leaves(Kit.MimeEntity entity)
    {
        switch (entity)
        {
            case Kit.Multipart multipart:
                foreach (var leaf in multipart.SelectMany(Leaves))
                {
                    yield return leaf;
                }

                break;
            case Kit.MessagePart message:
                using (var bytes = new MemoryStream())
                {
                    message.Message?.WriteTo(bytes);
                    yield return new LeafContent("message/rfc822", Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes.ToArray())));
                }

                break;
            case Kit.MimePart part:
                using (var decoded = new MemoryStream())
                {
                    part.Content?.DecodeTo(decoded);
                    var type = part.ContentType.MimeType.ToLowerInvariant();
                    var content = decoded.ToArray().AsSpan();
                    if (type == AmpType && content.EndsWith("\r\n"u8))
                    {
                        // An AMP part that was last under a missing close delimiter ends, for MimeKit, with the
                        // message's final line end; moved, that line end stays with the delimiter (README,
                        // "Intended differences from MimeKit": missing-close-delimiter).
                        content = content[..^2];
                    }

                    yield return new LeafContent(type, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(content)));
                }

                break;
        }
    }

    /// <summary>The design's order rules, as MimeKit sees the tree: one AMP part per alternative, before any HTML-bearing child, never last.</summary>
    private static void CheckOrder(Kit.MimeEntity entity, List<string> problems)
    {
        if (entity is not Kit.Multipart multipart || entity.ContentType.IsMimeType("multipart", "signed") || entity.ContentType.IsMimeType("multipart", "encrypted"))
        {
            return;
        }

        if (entity.ContentType.IsMimeType("multipart", "alternative"))
        {
            var children = multipart.ToList();
            var amp = children.FindIndex(c => c.ContentType.IsMimeType("text", "x-amp-html"));
            var ampCount = children.Count(c => c.ContentType.IsMimeType("text", "x-amp-html"));
            var firstHtml = children.FindIndex(IsHtmlBearing);
            if (ampCount > 1)
            {
                problems.Add($"{ampCount} AMP parts in one alternative");
            }

            if (amp >= 0 && firstHtml >= 0 && amp > firstHtml)
            {
                problems.Add($"AMP part at {amp} after the HTML-bearing part at {firstHtml}");
            }

            if (amp >= 0 && firstHtml < 0 && amp == children.Count - 1)
            {
                problems.Add("AMP part is the last child of an alternative without HTML");
            }
        }

        foreach (var child in multipart)
        {
            CheckOrder(child, problems);
        }
    }

    private static bool IsHtmlBearing(Kit.MimeEntity entity) =>
        entity.ContentType.IsMimeType("text", "html")
        || (entity is Kit.Multipart { Count: > 0 } related && entity.ContentType.IsMimeType("multipart", "related") && related[0].ContentType.IsMimeType("text", "html"));

    private sealed record LeafContent(string Type, string Sha256)
    {
        public override string ToString() => $"{Type} {Sha256[..8]}";
    }
}
