using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>The service extensions an EHLO reply announces (RFC 5321 4.1.1.1): keyword upper-case, then parameters.</summary>
internal sealed class EhloExtensions
{
    public static readonly EhloExtensions None = new(new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase));

    private readonly Dictionary<string, string> _parameters;

    private EhloExtensions(Dictionary<string, string> parameters)
    {
        _parameters = parameters;
        Keywords = new HashSet<string>(parameters.Keys, StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlySet<string> Keywords { get; }

    public bool Has(string keyword) => _parameters.ContainsKey(keyword);

    public string? Parameters(string keyword) => _parameters.TryGetValue(keyword, out string? p) ? p : null;

    /// <summary>AUTH mechanisms, upper-case.</summary>
    public bool HasAuthMechanism(string mechanism)
    {
        string? list = Parameters("AUTH");
        if (list is null)
        {
            return false;
        }

        foreach (string m in list.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (m.Equals(mechanism, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public static EhloExtensions Parse(SmtpReply ehloReply)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string[] lines = ehloReply.Text.Split('\n');

        // The first line is the server's domain and greeting, not an extension.
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0)
            {
                continue;
            }

            int split = line.IndexOfAny([' ', '=']);

            // "AUTH=LOGIN PLAIN" is the pre-standard form some servers still send next to "AUTH LOGIN PLAIN".
            string keyword = (split < 0 ? line : line[..split]).ToUpperInvariant();
            string parameters = split < 0 ? "" : line[(split + 1)..].Trim();
            map[keyword] = map.TryGetValue(keyword, out string? earlier) && earlier.Length > 0
                ? earlier + " " + parameters
                : parameters;
        }

        return new EhloExtensions(map);
    }
}
