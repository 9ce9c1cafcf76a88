using System.Text;

namespace SmtpAmpProxy.Mime.Parsing;

/// <summary>
/// Lower-case names for the tokens a parse meets most, so a typical message allocates no string for them.
/// </summary>
internal static class MediaTypeNames
{
    private static readonly string[] Common =
    [
        "text", "plain", "html", "x-amp-html", "multipart", "alternative", "mixed", "related", "signed",
        "encrypted", "report", "digest", "message", "rfc822", "global", "delivery-status", "application",
        "octet-stream", "pdf", "pkcs7-mime", "pkcs7-signature", "pgp-signature", "pgp-encrypted", "image", "png",
        "jpeg", "gif", "audio", "video", "calendar", "base64", "quoted-printable", "7bit", "8bit", "binary",
        "attachment", "inline", "boundary", "charset", "name", "filename", "type", "start", "utf-8", "us-ascii",
    ];

    private static readonly (string Media, string Sub, string Joined)[] CommonJoined =
    [
        ("text", "plain", "text/plain"), ("text", "html", "text/html"), ("text", "x-amp-html", "text/x-amp-html"),
        ("multipart", "alternative", "multipart/alternative"), ("multipart", "mixed", "multipart/mixed"),
        ("multipart", "related", "multipart/related"), ("message", "rfc822", "message/rfc822"),
        ("application", "octet-stream", "application/octet-stream"),
    ];

    /// <summary>Lower-cases an ASCII token, reusing a shared string for common ones.</summary>
    public static string Lower(ReadOnlySpan<byte> token)
    {
        foreach (var s in Common)
        {
            if (s.Length == token.Length && Ascii.EqualsIgnoreCase(token, s))
            {
                return s;
            }
        }

        Span<char> chars = token.Length <= 256 ? stackalloc char[token.Length] : new char[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            var b = token[i];
            chars[i] = (char)(b is >= (byte)'A' and <= (byte)'Z' ? b + 32 : b);
        }

        return new string(chars);
    }

    public static string Join(string mediaType, string subType)
    {
        foreach (var (media, sub, joined) in CommonJoined)
        {
            if (string.Equals(media, mediaType, StringComparison.Ordinal) && string.Equals(sub, subType, StringComparison.Ordinal))
            {
                return joined;
            }
        }

        return string.Concat(mediaType, "/", subType);
    }
}
