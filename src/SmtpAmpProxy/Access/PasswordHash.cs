using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SmtpAmpProxy.Access;

/// <summary>
/// Salted PBKDF2-SHA256 password hashes: <c>pbkdf2-sha256$ITERATIONS$SALT$HASH</c> (base64).
/// The configuration holds only these, so a leaked config file does not leak the senders' passwords.
/// </summary>
internal static class PasswordHash
{
    private const string Scheme = "pbkdf2-sha256";

    /// <summary>
    /// OWASP's Password Storage Cheat Sheet asks for 600,000 PBKDF2-HMAC-SHA256 iterations. Hashes made with
    /// fewer (100,000 before) still verify with the count they carry; hash the password again to raise it.
    /// </summary>
    public const int DefaultIterations = 600_000;

    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    public static string Create(string password, int iterations = DefaultIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Join('$', Scheme, iterations.ToString(CultureInfo.InvariantCulture), Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    public static bool IsWellFormed(string encoded) => TryDecode(encoded, out _, out _, out _);

    /// <summary>The iteration count a well-formed hash carries; null for anything else.</summary>
    public static int? IterationsOf(string encoded) => TryDecode(encoded, out var iterations, out _, out _) ? iterations : null;

    /// <summary>
    /// A hash of a random password with the given cost, for user names that do not exist: checking a password
    /// against it costs what checking a real user's costs, so the reply time does not say which names exist.
    /// </summary>
    /// <remarks>Random bytes stand in for the derived key: no password matches it, and making it costs nothing at start.</remarks>
    public static string CreateDummy(int iterations) =>
        string.Join('$', Scheme, iterations.ToString(CultureInfo.InvariantCulture),
            Convert.ToBase64String(RandomNumberGenerator.GetBytes(SaltBytes)), Convert.ToBase64String(RandomNumberGenerator.GetBytes(HashBytes)));

    public static bool Verify(string password, string encoded)
    {
        if (!TryDecode(encoded, out var iterations, out var salt, out var expected))
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static bool TryDecode(string encoded, out int iterations, out byte[] salt, out byte[] hash)
    {
        iterations = 0;
        salt = hash = [];
        var parts = encoded.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out iterations) || iterations < 1000)
        {
            return false;
        }

        try
        {
            salt = Convert.FromBase64String(parts[2]);
            hash = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            return false;
        }

        return salt.Length >= 8 && hash.Length >= 16;
    }
}
