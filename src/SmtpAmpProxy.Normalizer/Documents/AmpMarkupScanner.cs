using System.Text;

namespace SmtpAmpProxy.Normalizer.Documents;

/// <summary>What the markup scan saw of the AMP for Email rules the proxy can check without the validator.</summary>
internal sealed class AmpMarkupReport
{
    public const int MaxCustomStyleBytes = 75000;

    public const int MaxUrlsKept = 3;

    public bool Doctype { get; set; }

    public bool Html { get; set; }

    public bool AmpAttribute { get; set; }

    public bool Head { get; set; }

    public bool Body { get; set; }

    public bool MetaCharsetFirst { get; set; }

    public bool MetaCharsetElsewhere { get; set; }

    public bool Runtime { get; set; }

    public bool RuntimeAsync { get; set; }

    public bool RuntimeOutsideHead { get; set; }

    public bool Boilerplate { get; set; }

    public int StylesheetLinks { get; set; }

    public long CustomStyleBytes { get; set; }

    public int InsecureUrlCount { get; set; }

    /// <summary>The first few insecure URLs, for the finding's text.</summary>
    public List<string>? InsecureUrls { get; set; }

    /// <summary>The amp-invalid-markup problems in document order of the rules; empty when none.</summary>
    public List<string> MarkupProblems()
    {
        var problems = new List<string>();
        if (!Doctype)
        {
            problems.Add("no <!doctype html> before <html>");
        }

        if (!Html)
        {
            problems.Add("no <html> tag");
        }
        else if (!AmpAttribute)
        {
            problems.Add("<html> lacks the amp4email attribute");
        }

        if (!Head)
        {
            problems.Add("no <head>");
        }
        else if (!MetaCharsetFirst)
        {
            problems.Add(MetaCharsetElsewhere
                ? "<meta charset=\"utf-8\"> is not the first child of <head>"
                : "no <meta charset=\"utf-8\"> as the first child of <head>");
        }

        if (!Body)
        {
            problems.Add("no <body>");
        }

        if (!Runtime)
        {
            problems.Add(RuntimeOutsideHead
                ? "the https://cdn.ampproject.org/v0.js script is outside <head>"
                : "no <script async src=\"https://cdn.ampproject.org/v0.js\"> in <head>");
        }
        else if (!RuntimeAsync)
        {
            problems.Add("the https://cdn.ampproject.org/v0.js script lacks async");
        }

        if (!Boilerplate)
        {
            problems.Add("no <style amp4email-boilerplate> in <head>");
        }

        if (StylesheetLinks > 0)
        {
            problems.Add(StylesheetLinks == 1 ? "a <link rel=stylesheet>" : $"{StylesheetLinks} <link rel=stylesheet> tags");
        }

        if (CustomStyleBytes > MaxCustomStyleBytes)
        {
            problems.Add($"<style amp-custom> holds {CustomStyleBytes} bytes, over the {MaxCustomStyleBytes}-byte limit");
        }

        return problems;
    }
}

/// <summary>
/// A tolerant, single-pass tag scanner over the UTF-8 document: enough of the HTML tokenizer
/// (comments, declarations, start and end tags, quoted and unquoted attributes, raw text in script
/// and style) to check the AMP for Email rules that need no validator.
/// </summary>
/// <remarks>
/// Every step moves forward and every search is a span IndexOf, so the cost is linear in the
/// document: no regular expression, no backtracking an attacker could make quadratic. Tag and
/// attribute names compare ASCII case-insensitively, as HTML does. Character references in attribute
/// values are not decoded, and relative or scheme-relative URLs are not judged: only an explicit
/// <c>http:</c> scheme is.
/// </remarks>
internal static class AmpMarkupScanner
{
    private static ReadOnlySpan<byte> RuntimeUrl => "https://cdn.ampproject.org/v0.js"u8;

    private enum HeadState { Before, AwaitFirstChild, Inside, After }

    private enum TagKind { Other, Html, Head, Body, Meta, Script, Style, Link, RawText }

    public static AmpMarkupReport Scan(ReadOnlySpan<byte> doc)
    {
        var report = new AmpMarkupReport();
        var head = HeadState.Before;
        bool elementSeen = false;
        int i = doc.StartsWith("\uFEFF"u8) ? 3 : 0;
        while (i < doc.Length)
        {
            int lt = doc[i..].IndexOf((byte)'<');
            var text = lt < 0 ? doc[i..] : doc.Slice(i, lt);
            ScanWork.Add(text.Length + 1);
            if (head == HeadState.AwaitFirstChild && text.IndexOfAnyExcept(" \t\r\n\f"u8) >= 0)
            {
                ScanWork.Add(text.Length);
                head = HeadState.Inside;
            }

            if (lt < 0)
            {
                break;
            }

            i += lt;
            byte next = i + 1 < doc.Length ? doc[i + 1] : (byte)0;
            if (next == '!')
            {
                if (doc[i..].StartsWith("<!--"u8))
                {
                    i = SkipPast(doc, i + 4, "-->"u8);
                    continue;
                }

                int end = IndexOrEnd(doc, i, (byte)'>');
                if (!elementSeen && IsHtmlDoctype(doc[(i + 2)..end]))
                {
                    report.Doctype = true;
                }

                i = Math.Min(end + 1, doc.Length);
            }
            else if (next == '/' && i + 2 < doc.Length && IsAsciiLetter(doc[i + 2]))
            {
                int nameEnd = NameEnd(doc, i + 2);
                if (Ascii.EqualsIgnoreCase(doc[(i + 2)..nameEnd], "head"u8) && head != HeadState.Before)
                {
                    head = HeadState.After;
                }

                i = Math.Min(IndexOrEnd(doc, nameEnd, (byte)'>') + 1, doc.Length);
            }
            else if (next is (byte)'?' or (byte)'/')
            {
                i = Math.Min(IndexOrEnd(doc, i, (byte)'>') + 1, doc.Length);
            }
            else if (IsAsciiLetter(next))
            {
                elementSeen = true;
                i = StartTag(doc, i + 1, report, ref head);
            }
            else
            {
                if (head == HeadState.AwaitFirstChild)
                {
                    head = HeadState.Inside;
                }

                i++;
            }
        }

        return report;
    }

    /// <summary>Reads one start tag from its name at <paramref name="at"/>; returns the offset after it (and after its raw text).</summary>
    private static int StartTag(ReadOnlySpan<byte> doc, int at, AmpMarkupReport report, ref HeadState head)
    {
        int nameEnd = NameEnd(doc, at);
        var name = doc[at..nameEnd];
        var kind = Classify(name);
        bool inHead = head is HeadState.AwaitFirstChild or HeadState.Inside;
        bool firstInHead = head == HeadState.AwaitFirstChild;
        bool ampAttribute = false, metaUtf8 = false, isRuntime = false, async = false;
        bool boilerplate = false, custom = false, stylesheet = false;

        int i = nameEnd;
        while (true)
        {
            while (i < doc.Length && (IsSpace(doc[i]) || doc[i] == '/'))
            {
                i++;
            }

            if (i >= doc.Length)
            {
                break;
            }

            if (doc[i] == '>')
            {
                i++;
                break;
            }

            // HTML lets '=' begin a name; any other name ends at space, '/', '>' or '='.
            int attrStart = i++;
            while (i < doc.Length && !IsSpace(doc[i]) && doc[i] is not ((byte)'/' or (byte)'>' or (byte)'='))
            {
                i++;
            }

            var attr = doc[attrStart..i];
            int j = i;
            while (j < doc.Length && IsSpace(doc[j]))
            {
                j++;
            }

            var value = ReadOnlySpan<byte>.Empty;
            if (j < doc.Length && doc[j] == '=')
            {
                j++;
                while (j < doc.Length && IsSpace(doc[j]))
                {
                    j++;
                }

                if (j < doc.Length && doc[j] is (byte)'"' or (byte)'\'')
                {
                    int close = IndexOrEnd(doc, j + 1, doc[j]);
                    value = doc[(j + 1)..close];
                    j = Math.Min(close + 1, doc.Length);
                }
                else
                {
                    int start = j;
                    while (j < doc.Length && !IsSpace(doc[j]) && doc[j] != '>')
                    {
                        j++;
                    }

                    value = doc[start..j];
                }

                i = j;
            }

            CheckUrlAttribute(attr, value, report);
            switch (kind)
            {
                case TagKind.Html:
                    ampAttribute |= IsAmpEmailAttribute(attr);
                    break;
                case TagKind.Meta:
                    metaUtf8 |= Ascii.EqualsIgnoreCase(attr, "charset"u8) && Ascii.EqualsIgnoreCase(Trim(value), "utf-8"u8);
                    break;
                case TagKind.Script:
                    isRuntime |= Ascii.EqualsIgnoreCase(attr, "src"u8) && Trim(value).SequenceEqual(RuntimeUrl);
                    async |= Ascii.EqualsIgnoreCase(attr, "async"u8);
                    break;
                case TagKind.Style:
                    boilerplate |= Ascii.EqualsIgnoreCase(attr, "amp4email-boilerplate"u8);
                    custom |= Ascii.EqualsIgnoreCase(attr, "amp-custom"u8);
                    break;
                case TagKind.Link:
                    stylesheet |= Ascii.EqualsIgnoreCase(attr, "rel"u8) && HasToken(value, "stylesheet"u8);
                    break;
            }
        }

        switch (kind)
        {
            case TagKind.Html:
                if (!report.Html)
                {
                    report.Html = true;
                    report.AmpAttribute = ampAttribute;
                }

                break;
            case TagKind.Head:
                if (head == HeadState.Before)
                {
                    report.Head = true;
                    head = HeadState.AwaitFirstChild;
                    ScanWork.Add(i - at);
                    return i;
                }

                break;
            case TagKind.Body:
                report.Body = true;
                head = HeadState.After;
                break;
            case TagKind.Meta:
                report.MetaCharsetFirst |= metaUtf8 && firstInHead;
                report.MetaCharsetElsewhere |= metaUtf8 && !firstInHead;
                break;
            case TagKind.Script:
                report.Runtime |= isRuntime && inHead;
                report.RuntimeAsync |= isRuntime && inHead && async;
                report.RuntimeOutsideHead |= isRuntime && !inHead;
                break;
            case TagKind.Style:
                report.Boilerplate |= boilerplate && inHead;
                break;
            case TagKind.Link:
                report.StylesheetLinks += stylesheet ? 1 : 0;
                break;
        }

        ScanWork.Add(i - at);
        if (head == HeadState.AwaitFirstChild)
        {
            head = HeadState.Inside;
        }

        if (kind is TagKind.Script or TagKind.Style or TagKind.RawText)
        {
            // Script and style content is raw text up to the matching end tag (HTML section 13.2.5.2/3):
            // a '<' inside it is not a tag, and a URL in a script is not an attribute.
            int end = FindEndTag(doc, i, name);
            if (kind == TagKind.Style && custom)
            {
                report.CustomStyleBytes += end - i;
            }

            return end;
        }

        return i;
    }

    private static void CheckUrlAttribute(ReadOnlySpan<byte> attr, ReadOnlySpan<byte> value, AmpMarkupReport report)
    {
        ScanWork.Add(attr.Length + value.Length);
        if (Ascii.EqualsIgnoreCase(attr, "srcset"u8))
        {
            // Image candidate strings (HTML section 4.8.4.3): a URL up to white space, then descriptors
            // up to a comma; a URL's own trailing commas end the candidate.
            int i = 0;
            while (i < value.Length)
            {
                while (i < value.Length && (IsSpace(value[i]) || value[i] == ','))
                {
                    i++;
                }

                int start = i;
                while (i < value.Length && !IsSpace(value[i]))
                {
                    i++;
                }

                var url = value[start..i].TrimEnd((byte)',');
                bool endedByComma = url.Length < i - start;
                CheckUrl(url, report);
                if (!endedByComma)
                {
                    int comma = value[i..].IndexOf((byte)',');
                    i = comma < 0 ? value.Length : i + comma + 1;
                }
            }
        }
        else if (Ascii.EqualsIgnoreCase(attr, "src"u8) || Ascii.EqualsIgnoreCase(attr, "href"u8) || Ascii.EqualsIgnoreCase(attr, "action-xhr"u8))
        {
            CheckUrl(Trim(value), report);
        }
    }

    private static void CheckUrl(ReadOnlySpan<byte> url, AmpMarkupReport report)
    {
        if (url.Length >= 5 && Ascii.EqualsIgnoreCase(url[..5], "http:"u8))
        {
            report.InsecureUrlCount++;
            if (report.InsecureUrlCount <= AmpMarkupReport.MaxUrlsKept)
            {
                var shown = url.Length <= 80 ? url : url[..80];
                string text = Encoding.UTF8.GetString(shown);
                (report.InsecureUrls ??= []).Add(url.Length <= 80 ? text : text + "...");
            }
        }
    }

    /// <summary>The attribute that marks an AMP email: <c>⚡4email</c> (U+26A1) or <c>amp4email</c>.</summary>
    private static bool IsAmpEmailAttribute(ReadOnlySpan<byte> attr)
    {
        if (attr.StartsWith("\u26A1"u8))
        {
            return Ascii.EqualsIgnoreCase(attr[3..], "4email"u8);
        }

        return Ascii.EqualsIgnoreCase(attr, "amp4email"u8);
    }

    private static bool IsHtmlDoctype(ReadOnlySpan<byte> declaration)
    {
        if (declaration.Length < 7 || !Ascii.EqualsIgnoreCase(declaration[..7], "doctype"u8))
        {
            return false;
        }

        var rest = declaration[7..];
        var name = rest.TrimStart(" \t\r\n\f"u8);
        if (name.Length == rest.Length || name.Length < 4 || !Ascii.EqualsIgnoreCase(name[..4], "html"u8))
        {
            return false;
        }

        return name.Length == 4 || IsSpace(name[4]);
    }

    private static bool HasToken(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        ScanWork.Add(list.Length);
        foreach (var range in list.SplitAny(" \t\r\n\f"u8))
        {
            if (Ascii.EqualsIgnoreCase(list[range], token))
            {
                return true;
            }
        }

        return false;
    }

    private static TagKind Classify(ReadOnlySpan<byte> name)
    {
        if (Ascii.EqualsIgnoreCase(name, "html"u8))
        {
            return TagKind.Html;
        }

        if (Ascii.EqualsIgnoreCase(name, "head"u8))
        {
            return TagKind.Head;
        }

        if (Ascii.EqualsIgnoreCase(name, "body"u8))
        {
            return TagKind.Body;
        }

        if (Ascii.EqualsIgnoreCase(name, "meta"u8))
        {
            return TagKind.Meta;
        }

        if (Ascii.EqualsIgnoreCase(name, "script"u8))
        {
            return TagKind.Script;
        }

        if (Ascii.EqualsIgnoreCase(name, "style"u8))
        {
            return TagKind.Style;
        }

        if (Ascii.EqualsIgnoreCase(name, "link"u8))
        {
            return TagKind.Link;
        }

        return Ascii.EqualsIgnoreCase(name, "textarea"u8) || Ascii.EqualsIgnoreCase(name, "title"u8)
            ? TagKind.RawText
            : TagKind.Other;
    }

    /// <summary>Offset of <c>&lt;/name</c> (any case, then a space, '/' or '>') at or after <paramref name="from"/>, else the end.</summary>
    private static int FindEndTag(ReadOnlySpan<byte> doc, int from, ReadOnlySpan<byte> name)
    {
        int i = from;
        while (i < doc.Length)
        {
            int at = doc[i..].IndexOf("</"u8);
            if (at < 0)
            {
                ScanWork.Add(doc.Length - i);
                return doc.Length;
            }

            at += i;
            ScanWork.Add(at + 2 - i);
            int nameEnd = at + 2 + name.Length;
            if (nameEnd <= doc.Length && Ascii.EqualsIgnoreCase(doc[(at + 2)..nameEnd], name)
                && (nameEnd == doc.Length || IsSpace(doc[nameEnd]) || doc[nameEnd] is (byte)'/' or (byte)'>'))
            {
                return at;
            }

            i = at + 2;
        }

        return doc.Length;
    }

    private static int NameEnd(ReadOnlySpan<byte> doc, int from)
    {
        int i = from;
        while (i < doc.Length && !IsSpace(doc[i]) && doc[i] is not ((byte)'/' or (byte)'>'))
        {
            i++;
        }

        ScanWork.Add(i - from);
        return i;
    }

    private static int SkipPast(ReadOnlySpan<byte> doc, int from, ReadOnlySpan<byte> terminator)
    {
        int at = from <= doc.Length ? doc[from..].IndexOf(terminator) : -1;
        int end = at < 0 ? doc.Length : from + at + terminator.Length;
        ScanWork.Add(end - from);
        return end;
    }

    private static int IndexOrEnd(ReadOnlySpan<byte> doc, int from, byte value)
    {
        int at = from <= doc.Length ? doc[from..].IndexOf(value) : -1;
        int end = at < 0 ? doc.Length : from + at;
        ScanWork.Add(end - from + 1);
        return end;
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> value) => value.Trim(" \t\r\n\f"u8);

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)'\f';

    private static bool IsAsciiLetter(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a';
}
