using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Rules;

namespace SmtpAmpProxy.Normalizer.Reporting;

/// <summary>The offline verdict of <c>smtp-amp-proxy check</c>, for people (text) and for jq (JSON).</summary>
public static class CheckReport
{
    public static string ToText(NormalizationResult result, ReadOnlyMemory<byte> message, MimeLimits limits)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(limits);
        var parsed = TreeFor(result, message, limits);
        var text = new StringBuilder();
        text.Append("verdict: ").Append(VerdictName(result.Verdict)).Append('\n');
        if (result.Verdict == AmpVerdict.Reject)
        {
            text.Append("code: ").Append(result.RejectCode).Append('\n');
            text.Append("reason: ").Append(result.RejectText).Append('\n');
        }

        text.Append("amp: ").Append(result.HasAmp ? "yes" : "no").Append('\n');
        AppendFindings(text, "actions", result.Actions.Select(a => (a.Code, a.Description)));
        AppendFindings(text, "warnings", result.Warnings.Select(w => (w.Code, w.Description)));
        if (parsed.Status != MimeParseStatus.Ok)
        {
            text.Append("mime: ").Append(StatusName(parsed.Status)).Append(" (")
                .Append(ReplyText.Sanitize(parsed.Error ?? string.Empty)).Append("); the tree below is partial\n");
        }

        text.Append("tree:\n");
        var stack = new Stack<MimeEntity>();
        stack.Push(parsed.Root);
        while (stack.Count > 0)
        {
            var e = stack.Pop();
            text.Append(' ', 2 * (e.Depth + 1)).Append(e.Path).Append("  ").Append(ReplyText.Sanitize(e.ContentType.MimeType));
            if (e.Disposition is not null)
            {
                text.Append("  ").Append(ReplyText.Sanitize(e.Disposition));
            }

            text.Append("  ").Append(e.Length).Append(e.Length == 1 ? " byte\n" : " bytes\n");
            for (int i = e.Children.Count - 1; i >= 0; i--)
            {
                stack.Push(e.Children[i]);
            }
        }

        return text.ToString();
    }

    /// <summary>One JSON object: verdict, code, reason, hasAmp, actions, warnings, mime, tree.</summary>
    public static string ToJson(NormalizationResult result, ReadOnlyMemory<byte> message, MimeLimits limits)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(limits);
        var parsed = TreeFor(result, message, limits);
        using var buffer = new MemoryStream();
        // Names from the message are escaped by the default encoder; relaxed escaping keeps '+' and
        // '<' readable for operators without letting control characters through.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("verdict", VerdictName(result.Verdict));
            json.WriteString("code", result.RejectCode);
            json.WriteString("reason", result.RejectText);
            json.WriteBoolean("hasAmp", result.HasAmp);
            WriteFindings(json, "actions", result.Actions.Select(a => (a.Code, a.Description)));
            WriteFindings(json, "warnings", result.Warnings.Select(w => (w.Code, w.Description)));
            json.WriteStartObject("mime");
            json.WriteString("status", StatusName(parsed.Status));
            json.WriteString("error", parsed.Error);
            json.WriteEndObject();
            json.WritePropertyName("tree");
            WriteEntity(json, parsed.Root);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static MimeParseResult TreeFor(NormalizationResult result, ReadOnlyMemory<byte> message, MimeLimits limits) =>
        result.Parsed ?? MimeParser.Parse(message, limits);

    // Recursion depth is bounded by the parser's MaxDepth; the report is an offline tool.
    private static void WriteEntity(Utf8JsonWriter json, MimeEntity e)
    {
        json.WriteStartObject();
        json.WriteString("path", e.Path);
        json.WriteString("contentType", e.ContentType.MimeType);
        json.WriteString("disposition", e.Disposition);
        json.WriteString("transferEncoding", e.TransferEncoding);
        json.WriteNumber("offset", e.Offset);
        json.WriteNumber("length", e.Length);
        json.WriteNumber("bodyOffset", e.BodyOffset);
        json.WriteNumber("bodyLength", e.BodyLength);
        json.WriteStartArray("children");
        for (int i = 0; i < e.Children.Count; i++)
        {
            WriteEntity(json, e.Children[i]);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteFindings(Utf8JsonWriter json, string name, IEnumerable<(string Code, string Description)> items)
    {
        json.WriteStartArray(name);
        foreach (var (code, description) in items)
        {
            json.WriteStartObject();
            json.WriteString("code", code);
            json.WriteString("description", description);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void AppendFindings(StringBuilder text, string title, IEnumerable<(string Code, string Description)> items)
    {
        text.Append(title).Append(':');
        bool any = false;
        foreach (var (code, description) in items)
        {
            text.Append("\n  ").Append(code).Append(": ").Append(description);
            any = true;
        }

        text.Append(any ? "\n" : " none\n");
    }

    private static string VerdictName(AmpVerdict verdict) => verdict switch
    {
        AmpVerdict.Pass => "pass",
        AmpVerdict.Rewrite => "rewrite",
        _ => "reject",
    };

    private static string StatusName(MimeParseStatus status) => status switch
    {
        MimeParseStatus.Ok => "ok",
        MimeParseStatus.DepthExceeded => "depth-exceeded",
        MimeParseStatus.PartCountExceeded => "part-count-exceeded",
        MimeParseStatus.HeaderBlockTooLarge => "header-block-too-large",
        MimeParseStatus.ParameterCountExceeded => "parameter-count-exceeded",
        MimeParseStatus.AmbiguousBoundary => "ambiguous-boundary",
        _ => status.ToString(),
    };
}
