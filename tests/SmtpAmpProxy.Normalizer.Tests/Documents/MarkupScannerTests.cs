using System.Text;
using SmtpAmpProxy.Normalizer.Documents;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Documents;

public sealed class MarkupScannerTests
{
    private static AmpMarkupReport Scan(string document) => AmpMarkupScanner.Scan(Encoding.UTF8.GetBytes(document));

    private static List<string> Problems(string document) => Scan(document).MarkupProblems();

    [Theory]
    [InlineData("<html \u26A14email>")]
    [InlineData("<html amp4email>")]
    [InlineData("<HTML AMP4EMAIL>")]
    [InlineData("<html \u26A14EMAIL lang=en>")]
    [InlineData("<html lang=\"en\" amp4email=\"\">")]
    [InlineData("<html\tdata-css-strict\namp4email/>")]
    public void Scan_HtmlMarkedForEmail_HasTheAmpAttribute(string tag)
    {
        Assert.True(Scan($"<!doctype html>{tag}").AmpAttribute);
    }

    [Theory]
    [InlineData("<html \u26A1>")]
    [InlineData("<html amp>")]
    [InlineData("<html amp4ads>")]
    [InlineData("<html lang=amp4email>")]
    [InlineData("<html data-amp4email>")]
    public void Scan_HtmlNotMarkedForEmail_LacksTheAmpAttribute(string tag)
    {
        var report = Scan($"<!doctype html>{tag}");

        Assert.True(report.Html);
        Assert.False(report.AmpAttribute);
    }

    [Theory]
    [InlineData("<!doctype html>")]
    [InlineData("<!DOCTYPE HTML>")]
    [InlineData("\uFEFF<!doctype html>")]
    [InlineData("<!-- generated -->\r\n<!doctype\thtml >")]
    public void Scan_DoctypeBeforeHtml_IsSeen(string prefix)
    {
        Assert.True(Scan($"{prefix}<html amp4email>").Doctype);
    }

    [Theory]
    [InlineData("<html amp4email><!doctype html>")]
    [InlineData("<!doctype htmlx><html amp4email>")]
    [InlineData("<!doctypehtml><html amp4email>")]
    public void Scan_DoctypeMissingOrLateOrWrong_IsNotSeen(string document)
    {
        Assert.False(Scan(document).Doctype);
    }

    [Theory]
    [InlineData("<head><meta charset=\"utf-8\">")]
    [InlineData("<head>\r\n  <!-- first the charset -->\r\n  <META CHARSET=UTF-8>")]
    [InlineData("<head><meta charset = 'Utf-8' >")]
    [InlineData("<head><meta charset=\" utf-8 \"/>")]
    public void Scan_MetaCharsetFirstInHead_IsAccepted(string head)
    {
        Assert.True(Scan($"<!doctype html><html amp4email>{head}</head>").MetaCharsetFirst);
    }

    [Theory]
    [InlineData("<head><title>x</title><meta charset=\"utf-8\">")]
    [InlineData("<head>text<meta charset=\"utf-8\">")]
    [InlineData("<head><meta name=viewport content=width=device-width><meta charset=\"utf-8\">")]
    public void Scan_MetaCharsetAfterSomethingElse_IsNotFirst(string head)
    {
        var report = Scan($"<!doctype html><html amp4email>{head}</head>");

        Assert.False(report.MetaCharsetFirst);
        Assert.True(report.MetaCharsetElsewhere);
        Assert.Contains("<meta charset=\"utf-8\"> is not the first child of <head>", report.MarkupProblems());
    }

    [Fact]
    public void Scan_MetaCharsetOutsideHead_IsNotFirst()
    {
        Assert.Contains("<meta charset=\"utf-8\"> is not the first child of <head>",
            Problems("<!doctype html><html amp4email><head></head><meta charset=utf-8><body></body>"));
    }

    [Fact]
    public void Scan_ValidDocument_HasNoProblemsAndNoInsecureUrls()
    {
        var report = Scan(ValidAmp());

        Assert.Empty(report.MarkupProblems());
        Assert.Equal(0, report.InsecureUrlCount);
    }

    [Fact]
    public void Scan_EmptyDocument_ListsEveryRequiredPiece()
    {
        Assert.Equal(
        [
            "no <!doctype html> before <html>", "no <html> tag", "no <head>", "no <body>",
            "no <script async src=\"https://cdn.ampproject.org/v0.js\"> in <head>", "no <style amp4email-boilerplate> in <head>",
        ], Problems(string.Empty));
    }

    [Fact]
    public void Scan_MarkupInsideScriptStyleAndComments_IsNotMarkup()
    {
        var document = ValidAmp(
            "<script type=\"application/json\">{\"a\": \"<link rel=stylesheet href=http://x.example/a.css>\", \"b\": \"</scripts>\"}</SCRIPT >" +
            "<!-- <img src=\"http://x.example/b.png\"> -->" +
            "<textarea name=t><img src=\"http://x.example/c.png\"></textarea>",
            head: "<style amp-custom>a::after{content:\"<link rel=stylesheet>\"}</style>");

        var report = Scan(document);

        Assert.Equal(0, report.StylesheetLinks);
        Assert.Equal(0, report.InsecureUrlCount);
        Assert.Empty(report.MarkupProblems());
    }

    [Fact]
    public void Scan_RuntimeScriptWithEndTagLookalikeInHead_KeepsHeadOpen()
    {
        var document = "<!doctype html><html amp4email><head><meta charset=utf-8>" +
                       "<script type=\"text/plain\">document.write('</head>')</script>" +
                       "<script async src=\"https://cdn.ampproject.org/v0.js\"></script>" +
                       "<style amp4email-boilerplate>body{visibility:hidden}</style></head><body></body></html>";

        Assert.Empty(Problems(document));
    }

    [Theory]
    [InlineData("<link rel=stylesheet href=https://x.example/a.css>", 1)]
    [InlineData("<LINK REL='Alternate StyleSheet' HREF=https://x.example/a.css>", 1)]
    [InlineData("<link rel=\"preconnect\" href=\"https://x.example\"><link rel=\"stylesheet\" href=\"/a.css\">", 1)]
    [InlineData("<link rel=stylesheets href=a.css><link rel=icon href=a.ico>", 0)]
    public void Scan_StylesheetLinks_AreCounted(string links, int expected)
    {
        Assert.Equal(expected, Scan(ValidAmp(links)).StylesheetLinks);
    }

    [Theory]
    [InlineData("<amp-img src=\"http://x.example/a.png\">", "http://x.example/a.png")]
    [InlineData("<amp-img SRC = HTTP://x.example/a.png>", "HTTP://x.example/a.png")]
    [InlineData("<a href=\"\r\n  http://x.example/\">", "http://x.example/")]
    [InlineData("<form action-xhr='http://x.example/submit'>", "http://x.example/submit")]
    [InlineData("<amp-img srcset=\"https://x.example/a,b.jpg 1x, http://x.example/c.jpg 2x\">", "http://x.example/c.jpg")]
    // HTML reads a URL up to white space, so without a space after the comma this is one URL.
    [InlineData("<amp-img srcset=\"http://x.example/a.jpg,https://x.example/b.jpg 2x\">", "http://x.example/a.jpg,https://x.example/b.jpg")]
    [InlineData("<amp-img srcset=\"http://x.example/a.jpg, https://x.example/b.jpg 2x\">", "http://x.example/a.jpg")]
    [InlineData("<amp-img srcset=\"https://x.example/a.jpg 100w,http://x.example/b.jpg 200w\">", "http://x.example/b.jpg")]
    public void Scan_HttpUrlInUrlAttribute_IsInsecure(string tag, string url)
    {
        var report = Scan(ValidAmp(tag));

        Assert.Equal(1, report.InsecureUrlCount);
        Assert.Equal([url], report.InsecureUrls);
    }

    [Theory]
    [InlineData("<amp-img src=\"https://x.example/a.png\">")]
    [InlineData("<a href=\"//x.example/scheme-relative\">")]
    [InlineData("<a href=\"/relative\"><a href=relative.html><a href=#top>")]
    [InlineData("<a href=\"mailto:a@example.com\"><a href=\"tel:+1\">")]
    [InlineData("<a href=\"httpx://x.example/\"><a href=\"http\"><a href=\"https://x.example/?next=http://y.example/\">")]
    [InlineData("<amp-img data-src=\"http://x.example/a.png\" [src]=\"'http://x.example/' + s\">")]
    [InlineData("<p>see http://x.example/ in text</p>")]
    public void Scan_NoExplicitHttpScheme_IsNotInsecure(string markup)
    {
        Assert.Equal(0, Scan(ValidAmp(markup)).InsecureUrlCount);
    }

    [Fact]
    public void Scan_ManyInsecureUrls_KeepsTheFirstThreeAndCountsAll()
    {
        var report = Scan(ValidAmp(string.Concat(Enumerable.Range(1, 5).Select(i => $"<a href=http://x.example/{i}>"))));

        Assert.Equal(5, report.InsecureUrlCount);
        Assert.Equal(["http://x.example/1", "http://x.example/2", "http://x.example/3"], report.InsecureUrls);
    }

    [Fact]
    public void Normalize_ManyInsecureUrls_DescriptionNamesThreeAndTheRestByNumber()
    {
        var document = ValidAmp(string.Concat(Enumerable.Range(1, 5).Select(i => $"<a href=http://x.example/{i}>")) +
                                $"<a href=\"http://x.example/{new string('y', 200)}\">");

        var result = Trees.Normalize(AmpDocuments.InAlternative(document));

        Assert.Equal("AMP part /2 has 6 http: URLs (Gmail needs https) in src, srcset, action-xhr or href: " +
                     "http://x.example/1, http://x.example/2, http://x.example/3 and 3 more", Assert.Single(result.Warnings).Description);
    }

    [Fact]
    public void Scan_LongInsecureUrl_IsShortened()
    {
        var report = Scan(ValidAmp($"<a href=\"http://x.example/{new string('y', 200)}\">"));

        Assert.Equal(83, Assert.Single(report.InsecureUrls!).Length);
        Assert.EndsWith("...", report.InsecureUrls![0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<!doctype html><html amp4email><head><!-- never closed")]
    [InlineData("<!doctype html><html amp4email><head><meta charset=\"utf-8")]
    [InlineData("<!doctype html><html amp4email><head><script>never closed")]
    [InlineData("<!doctype html><html amp4email><head><style amp-custom>p{}")]
    [InlineData("<!doctype html><html amp4email><head><meta charset=")]
    [InlineData("<!doctype html><html amp4email><head><meta charset")]
    [InlineData("<!doctype html><html amp4email><head><")]
    [InlineData("<!doctype html><html amp4email><head></")]
    [InlineData("<!doctype html><html amp4email><head><!")]
    [InlineData("<!doctype")]
    [InlineData("<a href='http://x.example/")]
    public void Scan_TruncatedDocument_EndsWithProblemsInsteadOfThrowing(string document)
    {
        Assert.NotEmpty(Problems(document));
    }

    [Fact]
    public void Scan_UnterminatedStyleAmpCustom_CountsToTheEnd()
    {
        Assert.Equal(75001, Scan("<style amp-custom>" + new string('a', 75001)).CustomStyleBytes);
    }

    [Fact]
    public void Scan_LessThanSignsInText_AreText()
    {
        Assert.Empty(Problems(ValidAmp("1 < 2, a <= b, <3 and < /p>")));
    }
}
