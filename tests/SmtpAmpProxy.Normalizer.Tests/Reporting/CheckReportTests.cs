using System.Text.Json;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Reporting;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Reporting;

public sealed class CheckReportTests
{
    [Fact]
    public void ToJson_Rewrite_HasVerdictActionsAndNestedTree()
    {
        var message = Message(Mixed(Alt(Plain(), Html(), Amp()), Attachment()));
        var result = Trees.Normalize(message);

        using var json = JsonDocument.Parse(CheckReport.ToJson(result, message, Trees.Limits));

        var root = json.RootElement;
        Assert.Equal("rewrite", root.GetProperty("verdict").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("code").ValueKind);
        var action = Assert.Single(root.GetProperty("actions").EnumerateArray());
        Assert.Equal("amp-after-html", action.GetProperty("code").GetString());
        Assert.Equal("moved AMP part /1/3 before part /1/2 in /1", action.GetProperty("description").GetString());
        Assert.Empty(root.GetProperty("warnings").EnumerateArray());
        var tree = root.GetProperty("tree");
        Assert.Equal("/", tree.GetProperty("path").GetString());
        Assert.Equal("multipart/mixed", tree.GetProperty("contentType").GetString());
        Assert.Equal(0, tree.GetProperty("offset").GetInt32());
        Assert.Equal(message.Length, tree.GetProperty("length").GetInt32());
        var children = tree.GetProperty("children").EnumerateArray().ToList();
        Assert.Equal(2, children.Count);
        Assert.Equal("attachment", children[1].GetProperty("disposition").GetString());
        Assert.Equal("base64", children[1].GetProperty("transferEncoding").GetString());
        var alt = children[0];
        Assert.Equal("/1", alt.GetProperty("path").GetString());
        Assert.Equal(["/1/1", "/1/2", "/1/3"], alt.GetProperty("children").EnumerateArray().Select(c => c.GetProperty("path").GetString()));
        var amp = alt.GetProperty("children")[2];
        Assert.Equal("text/x-amp-html", amp.GetProperty("contentType").GetString());
        Assert.Equal(JsonValueKind.Null, amp.GetProperty("disposition").ValueKind);
        Assert.Empty(amp.GetProperty("children").EnumerateArray());
    }

    [Fact]
    public void ToJson_Reject_HasCodeAndReason()
    {
        var message = Message(Mixed(Plain(), Amp()));
        var result = Trees.Normalize(message);

        using var json = JsonDocument.Parse(CheckReport.ToJson(result, message, Trees.Limits));

        Assert.Equal("reject", json.RootElement.GetProperty("verdict").GetString());
        Assert.Equal("amp-misplaced", json.RootElement.GetProperty("code").GetString());
        Assert.Equal(result.RejectText, json.RootElement.GetProperty("reason").GetString());
        Assert.Empty(json.RootElement.GetProperty("actions").EnumerateArray());
    }

    [Fact]
    public void ToJson_FastPathPass_StillShowsTheTree()
    {
        var message = Message(Alt(Plain(), Html()));
        var result = Trees.Normalize(message);
        Assert.Null(result.Parsed);

        using var json = JsonDocument.Parse(CheckReport.ToJson(result, message, Trees.Limits));

        Assert.Equal("pass", json.RootElement.GetProperty("verdict").GetString());
        Assert.False(json.RootElement.GetProperty("hasAmp").GetBoolean());
        Assert.Equal(2, json.RootElement.GetProperty("tree").GetProperty("children").GetArrayLength());
    }

    [Fact]
    public void ToJson_SignedWarning_ListsTheWarning()
    {
        var message = Message(Signed(Alt(Plain(), Html(), Amp())));
        var result = Trees.Normalize(message);

        using var json = JsonDocument.Parse(CheckReport.ToJson(result, message, Trees.Limits));

        var warning = Assert.Single(json.RootElement.GetProperty("warnings").EnumerateArray());
        Assert.Equal("amp-in-signed", warning.GetProperty("code").GetString());
    }

    [Fact]
    public void ToJson_IsExactlyOneObject()
    {
        var message = Message(Alt(Plain(), Amp()));
        string text = CheckReport.ToJson(Trees.Normalize(message), message, Trees.Limits);

        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(text));
        Assert.True(reader.Read());
        Assert.Equal(JsonTokenType.StartObject, reader.TokenType);
        reader.Skip();
        Assert.False(reader.Read());
    }

    [Fact]
    public void ToText_Rewrite_PrintsVerdictActionsAndIndentedTree()
    {
        var message = Message(Mixed(Alt(Plain(), Html(), Amp()), Attachment()));
        var result = Trees.Normalize(message);

        string text = CheckReport.ToText(result, message, Trees.Limits);

        var lines = text.Split('\n');
        Assert.Equal("verdict: rewrite", lines[0]);
        Assert.Contains("  amp-after-html: moved AMP part /1/3 before part /1/2 in /1", lines);
        Assert.Contains("warnings: none", lines);
        Assert.Contains(lines, l => l.StartsWith($"  /  multipart/mixed  {message.Length} bytes", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("    /1  multipart/alternative  ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("      /1/3  text/x-amp-html  ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("    /2  application/pdf  attachment  ", StringComparison.Ordinal));
    }

    [Fact]
    public void ToText_Reject_PrintsCodeAndReason()
    {
        var message = Message(Mixed(Plain(), Amp()));
        var result = Trees.Normalize(message);

        string text = CheckReport.ToText(result, message, Trees.Limits);

        Assert.Contains("verdict: reject\n", text);
        Assert.Contains("code: amp-misplaced\n", text);
        Assert.Contains($"reason: {result.RejectText}\n", text);
    }

    [Fact]
    public void ToText_MimeLimit_SaysTheTreeIsPartial()
    {
        var message = Message(Mixed(Mixed(Mixed(Alt(Amp(), Plain())))));
        var limits = new SmtpAmpProxy.Mime.MimeLimits { MaxDepth = 2 };
        var result = AmpNormalizer.Normalize(message, limits, new AmpOptions());

        string text = CheckReport.ToText(result, message, limits);

        Assert.Contains("code: mime-limit\n", text);
        Assert.Contains("the tree below is partial", text);
    }
}
