using SmtpAmpProxy.Mime.Parsing;

namespace SmtpAmpProxy.Mime.Model;

/// <summary>A parsed Content-Type (RFC 2045 §5.1) with RFC 2231 parameter values already decoded.</summary>
public sealed class ContentType
{
    private static readonly KeyValuePair<string, string>[] NoParameters = [];

    /// <summary>RFC 2045 §5.2: an entity without (or with an unreadable) Content-Type is text/plain; charset=us-ascii.</summary>
    internal static readonly ContentType Default = new("text", "plain", NoParameters);

    /// <summary>RFC 2046 §5.1.5: in a multipart/digest the default is message/rfc822.</summary>
    internal static readonly ContentType DigestDefault = new("message", "rfc822", NoParameters);

    private readonly KeyValuePair<string, string>[] _parameters;

    internal ContentType(string mediaType, string subType, KeyValuePair<string, string>[] parameters)
    {
        MediaType = mediaType;
        SubType = subType;
        MimeType = MediaTypeNames.Join(mediaType, subType);
        _parameters = parameters;
    }

    /// <summary>Lower-case, e.g. "text".</summary>
    public string MediaType { get; }

    /// <summary>Lower-case, e.g. "x-amp-html".</summary>
    public string SubType { get; }

    /// <summary>"text/x-amp-html".</summary>
    public string MimeType { get; }

    /// <summary>Parameters in header order, names lower-case, continuations joined and decoded.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters => _parameters;

    /// <summary>Value of a parameter (name case-insensitive), quoted strings and RFC 2231 continuations decoded.</summary>
    public string? GetParameter(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var p in _parameters)
        {
            if (string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return p.Value;
            }
        }

        return null;
    }

    public bool Is(string mediaType, string subType) =>
        string.Equals(MediaType, mediaType, StringComparison.OrdinalIgnoreCase)
        && string.Equals(SubType, subType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses a Content-Type field value (folding allowed); null when it has no readable type/subtype.</summary>
    internal static ContentType? Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        return HeaderValueParser.ParseContentType(bytes, wantBoundary: false, out _);
    }

    public override string ToString() => MimeType;
}
