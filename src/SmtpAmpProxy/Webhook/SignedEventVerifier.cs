using System.Security.Cryptography;
using System.Text;

namespace SmtpAmpProxy.Webhook;

/// <summary>
/// SendGrid's Signed Event Webhook: an ECDSA P-256 signature with SHA-256 over the timestamp
/// header's text followed by the raw request body, sent base64 (ASN.1 DER) in a header.
/// </summary>
internal sealed class SignedEventVerifier
{
    public const string SignatureHeader = "X-Twilio-Email-Event-Webhook-Signature";
    public const string TimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp";

    // A DER P-256 signature is at most 72 bytes (96 in base64); anything longer is not one.
    private const int MaxSignatureChars = 128;

    private const string P256Oid = "1.2.840.10045.3.1.7";

    private readonly ECParameters _key;

    private SignedEventVerifier(ECParameters key) => _key = key;

    /// <summary>
    /// Reads the key as SendGrid shows it (base64 of the DER SubjectPublicKeyInfo, white space
    /// ignored) or as a PEM block; only a P-256 key is accepted, the only curve the scheme uses.
    /// </summary>
    public static bool TryCreate(string text, out SignedEventVerifier? verifier, out string error)
    {
        verifier = null;
        try
        {
            using var ecdsa = ECDsa.Create();
            var trimmed = text.Trim();
            if (trimmed.StartsWith("-----", StringComparison.Ordinal))
            {
                ecdsa.ImportFromPem(trimmed);
            }
            else
            {
                ecdsa.ImportSubjectPublicKeyInfo(Convert.FromBase64String(trimmed), out var read);
                if (read != Convert.FromBase64String(trimmed).Length)
                {
                    error = "has bytes after the public key";
                    return false;
                }
            }

            var parameters = ecdsa.ExportParameters(includePrivateParameters: false);
            if (parameters.Curve.Oid?.Value != P256Oid)
            {
                error = $"is an EC key on {parameters.Curve.Oid?.FriendlyName ?? "an unnamed curve"}, not P-256 as SendGrid's keys are";
                return false;
            }

            verifier = new SignedEventVerifier(parameters);
            error = "";
            return true;
        }
        catch (Exception e) when (e is FormatException or CryptographicException or ArgumentException)
        {
            error = "is not a base64 P-256 public key as SendGrid's Event Webhook settings show it";
            return false;
        }
    }

    /// <summary>True when <paramref name="signature"/> (base64 DER) signs <paramref name="timestamp"/> followed by <paramref name="body"/>.</summary>
    public bool Verify(string timestamp, ReadOnlySpan<byte> body, string signature) => Verify(timestamp, body, signature, out _);

    /// <param name="digest">SHA-256 of what was signed: the same for every signature of one timestamp and body.</param>
    public bool Verify(string timestamp, ReadOnlySpan<byte> body, string signature, out byte[] digest)
    {
        digest = [];
        if (signature.Length is 0 or > MaxSignatureChars)
        {
            return false;
        }

        Span<byte> der = stackalloc byte[MaxSignatureChars];
        if (!Convert.TryFromBase64String(signature.Trim(), der, out var derLength))
        {
            return false;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(timestamp));
        hash.AppendData(body);
        digest = hash.GetHashAndReset();

        // One key object per request: the platform does not promise that one ECDsa verifies on many threads at once.
        using var ecdsa = ECDsa.Create(_key);
        try
        {
            return ecdsa.VerifyHash(digest, der[..derLength], DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
