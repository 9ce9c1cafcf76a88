using SmtpAmpProxy.Mime.Model;

namespace SmtpAmpProxy.Normalizer.Rules;

/// <summary>What a part means to the AMP rules.</summary>
internal static class PartKinds
{
    public static bool IsAmp(MimeEntity e) => e.ContentType.Is("text", "x-amp-html");

    public static bool IsAlternative(MimeEntity e) => e.ContentType.Is("multipart", "alternative");

    public static bool IsHtml(MimeEntity e) => e.ContentType.Is("text", "html");

    public static bool IsPlain(MimeEntity e) => e.ContentType.Is("text", "plain");

    /// <summary>
    /// A part of zero bytes: two delimiter lines in a row. Some parsers list it as an empty text/plain part,
    /// others drop it; counted as a fallback or as the part after an AMP part it would let an alternative
    /// through that a dropping reader sees without one, so the rules look through it.
    /// </summary>
    public static bool IsVoid(MimeEntity e) => e.Length == 0;

    /// <summary>Containers whose bytes a signature covers or a key hides (RFC 1847, RFC 8551).</summary>
    public static bool IsSignedOrEncrypted(MimeEntity e) =>
        e.ContentType.Is("multipart", "signed")
        || e.ContentType.Is("multipart", "encrypted")
        || e.ContentType.Is("application", "pkcs7-mime")
        || e.ContentType.Is("application", "x-pkcs7-mime");

    /// <summary>An attached message is somebody else's message: its rules are not ours to enforce.</summary>
    public static bool IsEncapsulatedMessage(MimeEntity e) =>
        e.ContentType.Is("message", "rfc822") || e.ContentType.Is("message", "global");

    /// <summary>text/html, or multipart/related whose root is text/html.</summary>
    public static bool IsHtmlBearing(MimeEntity e)
    {
        if (IsHtml(e))
        {
            return true;
        }

        return e.ContentType.Is("multipart", "related") && RelatedRoot(e) is { } root && IsHtml(root);
    }

    /// <summary>
    /// RFC 2387 section 3.2: the root is the part whose Content-ID the <c>start</c> parameter names,
    /// else the first part. A <c>start</c> that names no part falls back to the first part, as mail
    /// readers do, so that a sloppy sender is not refused for it.
    /// </summary>
    public static MimeEntity? RelatedRoot(MimeEntity related)
    {
        var children = related.Children;
        if (children.Count == 0)
        {
            return null;
        }

        string? start = related.ContentType.GetParameter("start");
        if (string.IsNullOrWhiteSpace(start))
        {
            return children[0];
        }

        string wanted = NormalizeMessageId(start);
        foreach (var child in children)
        {
            string? id = child.GetHeader("Content-ID");
            if (id is not null && string.Equals(NormalizeMessageId(id), wanted, StringComparison.Ordinal))
            {
                return child;
            }
        }

        return children[0];
    }

    /// <summary>A msg-id without angle brackets and surrounding white space, for comparison.</summary>
    private static string NormalizeMessageId(string value)
    {
        var id = value.AsSpan().Trim();
        if (id.Length >= 2 && id[0] == '<' && id[^1] == '>')
        {
            id = id[1..^1].Trim();
        }

        return id.ToString();
    }

    /// <summary>The nearest signed or encrypted container above <paramref name="e"/>, or null.</summary>
    public static MimeEntity? SignedAncestor(MimeEntity e)
    {
        for (var p = e.Parent; p is not null; p = p.Parent)
        {
            if (IsSignedOrEncrypted(p))
            {
                return p;
            }
        }

        return null;
    }
}
