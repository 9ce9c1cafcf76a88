using System.Text.Json;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Reporting;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Reporting;

public sealed class DocumentFindingsReportTests
{
    private static readonly string Broken = ValidAmp("<amp-img src=\"http://x.example/a.png\" width=1 height=1></amp-img>")
        .Replace("<!doctype html>", string.Empty, StringComparison.Ordinal);

    [Fact]
    public void ToText_DocumentWarnings_AreListedWithTheirCodes()
    {
        var message = AmpDocuments.InAlternative(Broken);
        var result = Trees.Normalize(message);

        var lines = CheckReport.ToText(result, message, Trees.Limits).Split('\n');

        Assert.Equal("verdict: pass", lines[0]);
        Assert.Contains("  amp-invalid-markup: AMP part /2: no <!doctype html> before <html>", lines);
        Assert.Contains("  amp-insecure-url: AMP part /2 has an http: URL (Gmail needs https) in src, srcset, action-xhr or href: http://x.example/a.png", lines);
    }

    [Fact]
    public void ToJson_DocumentStrip_IsAnActionAndTheTreeIsTheInput()
    {
        var message = AmpDocuments.InAlternative(Broken);
        var result = Trees.Normalize(message, new AmpOptions { OnInsecureUrl = AmpDocumentAction.Strip });

        using var json = JsonDocument.Parse(CheckReport.ToJson(result, message, Trees.Limits));

        var root = json.RootElement;
        Assert.Equal("rewrite", root.GetProperty("verdict").GetString());
        var action = Assert.Single(root.GetProperty("actions").EnumerateArray());
        Assert.Equal("amp-insecure-url", action.GetProperty("code").GetString());
        Assert.StartsWith("dropped AMP part /2 from /", action.GetProperty("description").GetString(), StringComparison.Ordinal);
        var warning = Assert.Single(root.GetProperty("warnings").EnumerateArray());
        Assert.Equal("amp-invalid-markup", warning.GetProperty("code").GetString());
    }

    [Fact]
    public void ToJson_DocumentReject_HasCodeAndReason()
    {
        var message = AmpDocuments.InAlternative(Broken);
        var result = Trees.Normalize(message, new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Reject });

        using var json = JsonDocument.Parse(CheckReport.ToJson(result, message, Trees.Limits));

        Assert.Equal("reject", json.RootElement.GetProperty("verdict").GetString());
        Assert.Equal("amp-invalid-markup", json.RootElement.GetProperty("code").GetString());
        Assert.Equal("AMP part /2: no <!doctype html> before <html>", json.RootElement.GetProperty("reason").GetString());
        Assert.Equal(["amp-insecure-url"], json.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetProperty("code").GetString()));
    }
}
