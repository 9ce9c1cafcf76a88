using System.Security.Cryptography;
using SmtpAmpProxy.Configuration;

namespace SmtpAmpProxy.Dkim;

/// <summary>A signing key: the <c>d=</c> domain, the <c>s=</c> selector, and the RSA private key.</summary>
internal sealed record DkimKey(string Domain, string Selector, RSA Rsa);

/// <summary>
/// The configured signing keys, loaded once at start: domain → (selector, RSA key). A bad entry
/// stops the start with a <see cref="ConfigurationException"/> naming its configuration key.
/// </summary>
internal sealed class DkimKeyRing : IDisposable
{
    // RFC 8301 §3.2: verifiers must not accept keys under 1024 bits; Gmail wants 2048.
    private const int MinimumKeyBits = 1024;

    private readonly Dictionary<string, DkimKey> _keys;

    private DkimKeyRing(Dictionary<string, DkimKey> keys) => _keys = keys;

    public static DkimKeyRing Empty { get; } = new(new Dictionary<string, DkimKey>(StringComparer.OrdinalIgnoreCase));

    public IReadOnlyCollection<DkimKey> Keys => _keys.Values;

    /// <summary>Loads every key of <paramref name="options"/>; relative paths resolve against <paramref name="contentRoot"/>.</summary>
    public static DkimKeyRing Load(DkimOptions options, string contentRoot)
    {
        var keys = new Dictionary<string, DkimKey>(StringComparer.OrdinalIgnoreCase);
        try
        {
            var configured = options.Keys ?? [];
            for (var i = 0; i < configured.Count; i++)
            {
                var entry = configured[i];
                var prefix = $"Proxy:Dkim:Keys:{i}";
                var domain = entry.Domain.Trim().TrimEnd('.').ToLowerInvariant();
                var selector = entry.Selector.Trim();

                // Both go verbatim into the DKIM-Signature field: anything beyond DNS label characters
                // could end a tag (';') or the field (CRLF) early.
                if (!IsDnsName(domain))
                {
                    throw new ConfigurationException($"{prefix}:Domain: '{entry.Domain}' is not a domain name");
                }

                if (!IsDnsName(selector))
                {
                    throw new ConfigurationException($"{prefix}:Selector: '{entry.Selector}' is not a selector (letters, digits, '-', '_', '.')");
                }

                if (keys.ContainsKey(domain))
                {
                    throw new ConfigurationException($"{prefix}:Domain: '{domain}' has a key already; one key per domain");
                }

                keys.Add(domain, new DkimKey(domain, selector, LoadKey(prefix + ":PrivateKeyPath", entry.PrivateKeyPath, contentRoot)));
            }
        }
        catch
        {
            foreach (var key in keys.Values)
            {
                key.Rsa.Dispose();
            }

            throw;
        }

        return new DkimKeyRing(keys);
    }

    /// <summary>
    /// The key for <paramref name="domain"/>, else for its nearest parent domain that has one:
    /// DMARC's relaxed alignment accepts a signature by the parent of the From domain.
    /// </summary>
    public DkimKey? Find(string domain)
    {
        var candidate = domain.TrimEnd('.');
        while (candidate.Length > 0)
        {
            if (_keys.TryGetValue(candidate, out var key))
            {
                return key;
            }

            var dot = candidate.IndexOf('.', StringComparison.Ordinal);
            candidate = dot < 0 ? "" : candidate[(dot + 1)..];
        }

        return null;
    }

    public void Dispose()
    {
        foreach (var key in _keys.Values)
        {
            key.Rsa.Dispose();
        }
    }

    private static RSA LoadKey(string configKey, string path, string contentRoot)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new ConfigurationException($"{configKey}: is empty");
        }

        var full = ProxyOptionsValidator.ResolvePath(contentRoot, path);
        string pem;
        try
        {
            pem = File.ReadAllText(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"{configKey}: cannot read '{path}': {e.Message}", e);
        }

        var rsa = RSA.Create();
        try
        {
            // ImportFromPem takes "RSA PRIVATE KEY" (PKCS#1) and "PRIVATE KEY" (PKCS#8) alike.
            rsa.ImportFromPem(pem);

            // A public key imports fine and fails only at the first signature: refuse it now.
            _ = rsa.ExportParameters(includePrivateParameters: true);
            if (rsa.KeySize < MinimumKeyBits)
            {
                throw new ConfigurationException($"{configKey}: the key in '{path}' has {rsa.KeySize} bits; DKIM needs at least {MinimumKeyBits} (2048 recommended)");
            }

            return rsa;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            throw new ConfigurationException(
                $"{configKey}: '{path}' holds no usable RSA private key (PEM, PKCS#1 'RSA PRIVATE KEY' or unencrypted PKCS#8 'PRIVATE KEY'): {e.Message}", e);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    private static bool IsDnsName(string name) =>
        name.Length is > 0 and <= 253
        && name.Split('.').All(label => label.Length is > 0 and <= 63 && label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
}
