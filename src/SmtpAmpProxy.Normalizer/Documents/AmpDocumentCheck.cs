using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Normalizer.Rules;

namespace SmtpAmpProxy.Normalizer.Documents;

/// <summary>One broken document rule of one AMP part: the rule code and the problem in words.</summary>
internal readonly record struct DocumentProblem(string Code, string Problem);

/// <summary>
/// The AMP for Email rules the proxy can check without fetching the AMP validator: size, required
/// markup, and plain-http URLs (Gmail loads images and calls endpoints over HTTPS only).
/// </summary>
internal static class AmpDocumentCheck
{
    private const int MaxProblemsNamed = 4;

    /// <summary>The problems of one AMP part, in rule order; null for a compliant part.</summary>
    public static List<DocumentProblem>? Check(MimeEntity part, int maxBytes)
    {
        using var text = AmpDocumentText.Decode(part);
        var doc = text.Bytes.Span;
        var report = AmpMarkupScanner.Scan(doc);
        string suffix = text.Note is null ? string.Empty : $" ({text.Note})";
        List<DocumentProblem>? problems = null;

        if (doc.Length > maxBytes)
        {
            (problems ??= []).Add(new(RuleCodes.TooLarge,
                $"AMP part {part.Path} is {doc.Length} bytes, over the {maxBytes}-byte limit{suffix}"));
        }

        var markup = report.MarkupProblems();
        if (markup.Count > 0)
        {
            string named = string.Join("; ", markup.Take(MaxProblemsNamed));
            string more = markup.Count > MaxProblemsNamed ? $"; and {markup.Count - MaxProblemsNamed} more" : string.Empty;
            (problems ??= []).Add(new(RuleCodes.InvalidMarkup, $"AMP part {part.Path}: {named}{more}{suffix}"));
        }

        if (report.InsecureUrlCount > 0)
        {
            string urls = string.Join(", ", report.InsecureUrls!);
            string more = report.InsecureUrlCount > AmpMarkupReport.MaxUrlsKept
                ? $" and {report.InsecureUrlCount - AmpMarkupReport.MaxUrlsKept} more"
                : string.Empty;
            string count = report.InsecureUrlCount == 1 ? "an http: URL" : $"{report.InsecureUrlCount} http: URLs";
            (problems ??= []).Add(new(RuleCodes.InsecureUrl,
                $"AMP part {part.Path} has {count} (Gmail needs https) in src, srcset, action-xhr or href: {urls}{more}{suffix}"));
        }

        return problems;
    }
}
