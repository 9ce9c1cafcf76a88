using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using SmtpAmpProxy.Normalizer.Documents;
using SmtpAmpProxy.Normalizer.Tests.Support;

namespace SmtpAmpProxy.Normalizer.Tests.Oracles;

/// <summary>
/// AngleSharp, an HTML5 parser we did not write, as a second reader of the AMP document corpus: what
/// our markup scanner reports about each rule must be what AngleSharp's DOM shows. Two readings
/// differ by design and are compared on purpose-built terms:
/// <list type="bullet">
/// <item><c>implied-elements</c>: the HTML5 tree builder creates &lt;html&gt;, &lt;head&gt; and &lt;body&gt;
/// when a document lacks them, while AMP for Email requires them written; AngleSharp's element counts
/// as present only when its source position holds its own start tag.</item>
/// <item><c>line-ends-normalized</c>: the HTML input stream turns CRLF into LF (HTML §13.2.3.5) before
/// AngleSharp counts a style's text, while the 75,000-byte limit is on the bytes as sent; the style
/// size is compared on the document with LF line ends.</item>
/// <item><c>head-less-document</c>: without a written &lt;head&gt; the tree builder moves the meta, script
/// and style elements into the head it implies; our scanner places nothing in a head that is not
/// written, so besides "no &lt;head&gt;" it also names the head rules (runtime, boilerplate). Both find
/// the document invalid; only the further findings differ, so those fields are not compared then.</item>
/// </list>
/// </summary>
public sealed class AngleSharpMarkupTests
{
    private const string RuntimeUrl = "https://cdn.ampproject.org/v0.js";

    public static TheoryData<string, string> Documents()
    {
        var data = new TheoryData<string, string>();
        foreach (var folder in new[] { "valid", "broken" })
        {
            foreach (var path in Directory.EnumerateFiles(Path.Combine(AmpDocuments.Directory, folder), "*.html").Order(StringComparer.Ordinal))
            {
                data.Add(folder, Path.GetFileName(path));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Scan_CorpusDocument_AgreesWithAngleSharpsDom(string folder, string name)
    {
        var document = AmpDocuments.Read(folder, name);

        var ours = Ours(document);
        var theirs = FromDom(document);
        if (!ours.Head && !theirs.Head)
        {
            // head-less-document: the head rules are judged on what AngleSharp put in its implied head.
            Assert.Contains("no <head>", AmpMarkupScanner.Scan(Encoding.UTF8.GetBytes(document)).MarkupProblems());
            theirs = theirs with
            {
                MetaCharsetFirst = ours.MetaCharsetFirst, MetaCharsetElsewhere = ours.MetaCharsetElsewhere, Runtime = ours.Runtime,
                RuntimeAsync = ours.RuntimeAsync, RuntimeOutsideHead = ours.RuntimeOutsideHead, Boilerplate = ours.Boilerplate,
            };
        }

        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void Scan_CorpusDocuments_AngleSharpSeesEveryRuleBrokenSomewhere()
    {
        // The comparison proves something only if the corpus makes each field take both values.
        var readings = new[] { "valid", "broken" }
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(AmpDocuments.Directory, folder), "*.html"))
            .Select(path => FromDom(File.ReadAllText(path)))
            .ToList();

        Assert.Contains(readings, r => !r.Doctype);
        Assert.Contains(readings, r => !r.Html || !r.AmpAttribute);
        Assert.Contains(readings, r => !r.Head);
        Assert.Contains(readings, r => !r.Body);
        Assert.Contains(readings, r => !r.MetaCharsetFirst);
        Assert.Contains(readings, r => r.RuntimeOutsideHead);
        Assert.Contains(readings, r => r.Runtime && !r.RuntimeAsync);
        Assert.Contains(readings, r => !r.Boilerplate);
        Assert.Contains(readings, r => r.StylesheetLinks > 0);
        Assert.Contains(readings, r => r.InsecureUrls.Length > 0);
        Assert.Contains(readings, r => r.CustomStyleBytes > 0);
    }

    /// <summary>What the two readers are compared on: every field the rules use.</summary>
    private sealed record Reading(
        bool Doctype, bool Html, bool AmpAttribute, bool Head, bool Body, bool MetaCharsetFirst, bool MetaCharsetElsewhere,
        bool Runtime, bool RuntimeAsync, bool RuntimeOutsideHead, bool Boilerplate, int StylesheetLinks, long CustomStyleBytes,
        string InsecureUrls)
    {
        public override string ToString() => $"{nameof(Reading)} {{ {string.Join(", ", GetType().GetProperties().Where(p => p.Name != "EqualityContract").Select(p => $"{p.Name} = {p.GetValue(this)}"))} }}";
    }

    private static Reading Ours(string document)
    {
        var report = AmpMarkupScanner.Scan(Encoding.UTF8.GetBytes(document));
        var lf = AmpMarkupScanner.Scan(Encoding.UTF8.GetBytes(document.ReplaceLineEndings("\n")));
        return new(report.Doctype, report.Html, report.AmpAttribute, report.Head, report.Body, report.MetaCharsetFirst,
            report.MetaCharsetElsewhere, report.Runtime, report.RuntimeAsync, report.RuntimeOutsideHead, report.Boilerplate,
            report.StylesheetLinks, lf.CustomStyleBytes, string.Join(" ", report.InsecureUrls ?? []));
    }

    /// <summary>
    /// The element came from its own start tag. The tree builder gives an implied element the source
    /// position of the token that made it necessary, so the tag at that position tells the two apart.
    /// </summary>
    private static bool Written(IElement? element, string document)
    {
        if (element?.SourceReference is not { } source)
        {
            return false;
        }

        var at = source.Position.Index;
        var tag = "<" + element.LocalName;
        return at >= 0 && at + tag.Length < document.Length
            && string.Compare(document, at, tag, 0, tag.Length, StringComparison.OrdinalIgnoreCase) == 0
            && (char.IsWhiteSpace(document[at + tag.Length]) || document[at + tag.Length] is '>' or '/');
    }

    private static Reading FromDom(string document)
    {
        var parser = new HtmlParser(new HtmlParserOptions { IsKeepingSourceReferences = true });
        using var dom = parser.ParseDocument(document);
        var html = dom.DocumentElement;
        var head = dom.Head;
        var body = dom.Body;
        var elements = dom.All.ToList();

        bool IsRuntime(IElement e) => e.LocalName == "script" && e.GetAttribute("src")?.Trim() == RuntimeUrl;
        bool IsMetaUtf8(IElement e) => e.LocalName == "meta" && string.Equals(e.GetAttribute("charset")?.Trim(), "utf-8", StringComparison.OrdinalIgnoreCase);
        bool InHead(IElement e) => head is not null && head.Contains(e);

        var firstInHead = head?.FirstElementChild;
        var runtimeInHead = elements.Where(e => IsRuntime(e) && InHead(e)).ToList();
        var insecure = elements
            .SelectMany(e => e.Attributes.SelectMany(a => a.Name switch
            {
                "src" or "href" or "action-xhr" => [a.Value.Trim()],
                "srcset" => a.Value.Split(',').Select(c => c.Trim().Split((char[])[' ', '\t', '\n', '\r', '\f'], 2)[0].TrimEnd(',')),
                _ => [],
            }))
            .Where(url => url.StartsWith("http:", StringComparison.OrdinalIgnoreCase))
            .Take(AmpMarkupReport.MaxUrlsKept);

        return new(
            Doctype: string.Equals(dom.Doctype?.Name, "html", StringComparison.OrdinalIgnoreCase),
            Html: Written(html, document),
            AmpAttribute: html is not null && html.Attributes.Any(a => a.Name is "\u26a14email" or "amp4email"),
            Head: Written(head, document),
            Body: Written(body, document),
            MetaCharsetFirst: firstInHead is not null && IsMetaUtf8(firstInHead),
            MetaCharsetElsewhere: elements.Any(e => IsMetaUtf8(e) && e != firstInHead),
            Runtime: runtimeInHead.Count > 0,
            RuntimeAsync: runtimeInHead.Any(e => e.HasAttribute("async")),
            RuntimeOutsideHead: elements.Any(e => IsRuntime(e) && !InHead(e)),
            Boilerplate: elements.Any(e => e.LocalName == "style" && e.HasAttribute("amp4email-boilerplate") && InHead(e)),
            StylesheetLinks: elements.Count(e => e.LocalName == "link" && (e.GetAttribute("rel") ?? "").Split((char[])[' ', '\t', '\n', '\r', '\f'], StringSplitOptions.RemoveEmptyEntries).Any(t => t.Equals("stylesheet", StringComparison.OrdinalIgnoreCase))),
            CustomStyleBytes: elements.Where(e => e.LocalName == "style" && e.HasAttribute("amp-custom")).Sum(e => (long)Encoding.UTF8.GetByteCount(e.TextContent)),
            InsecureUrls: string.Join(" ", insecure));
    }
}
