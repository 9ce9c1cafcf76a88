using System.Text;
using SmtpAmpProxy.Normalizer.Results;

namespace SmtpAmpProxy.Normalizer.Rules;

/// <summary>
/// Makes text safe for one SMTP reply line: printable ASCII only, so that nothing a sender put in a
/// content type (CR, LF, NUL, 8-bit bytes) can end the reply early or forge a second one
/// (RFC 5321 section 4.2: reply text is printable US-ASCII).
/// </summary>
internal static class ReplyText
{
    public static string Sanitize(string text, int maxLength = NormalizationResult.MaxRejectTextLength)
    {
        var builder = new StringBuilder(Math.Min(text.Length, maxLength));
        bool lastWasSpace = false;
        foreach (char c in text)
        {
            char safe = c is >= ' ' and <= '~' ? c : (c is '\t' or '\r' or '\n' ? ' ' : '?');
            if (safe == ' ' && (lastWasSpace || builder.Length == 0))
            {
                continue;
            }

            lastWasSpace = safe == ' ';
            builder.Append(safe);
        }

        while (builder.Length > 0 && builder[^1] == ' ')
        {
            builder.Length--;
        }

        if (builder.Length > maxLength)
        {
            builder.Length = maxLength - 3;
            builder.Append("...");
        }

        return builder.ToString();
    }

    /// <summary>Shortens a name taken from the message (a content type) before it enters a sentence.</summary>
    public static string Name(string value) =>
        value.Length <= 80 ? value : string.Concat(value.AsSpan(0, 77), "...");
}
