using System.Globalization;
using System.Text;
using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Parsing;

namespace SmtpAmpProxy.Mime.Tests.Support;

/// <summary>The golden summary of a parse: one line per entity, ranges as offset+length.</summary>
internal static class TreeFormatter
{
    public static string Format(MimeParseResult result)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"status {result.Status}, {result.PartCount} entities\n");
        if (result.Error is not null)
        {
            sb.Append(CultureInfo.InvariantCulture, $"error {result.Error}\n");
        }

        Append(sb, result.Root);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, MimeEntity e)
    {
        var c = CultureInfo.InvariantCulture;
        sb.Append(' ', e.Depth * 2).Append(e.Path).Append(' ').Append(e.ContentType.MimeType);
        foreach (var p in e.ContentType.Parameters)
        {
            sb.Append(c, $"; {p.Key}=\"{p.Value}\"");
        }

        sb.Append(c, $" [{e.Offset}+{e.Length}] header {e.HeaderLength} body {e.BodyOffset}+{e.BodyLength}");
        if (e.TransferEncoding is not null)
        {
            sb.Append(" cte ").Append(e.TransferEncoding);
        }

        if (e.Disposition is not null)
        {
            sb.Append(" disposition ").Append(e.Disposition);
        }

        if (e.IsMultipart)
        {
            sb.Append(c, $" | preamble {e.PreambleLength}, close {(e.HasCloseDelimiter ? "yes" : "no")} {e.CloseDelimiterOffset}+{e.CloseDelimiterLength}, epilogue {e.EpilogueLength}");
        }

        sb.Append('\n');
        foreach (var child in e.Children)
        {
            Append(sb, child);
        }
    }
}
