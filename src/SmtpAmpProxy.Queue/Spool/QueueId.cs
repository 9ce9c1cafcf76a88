using System.Security.Cryptography;

namespace SmtpAmpProxy.Queue.Spool;

/// <summary>
/// Queue ids: 12 hex digits of arrival time in milliseconds, then 8 random ones, so a directory listing
/// sorts by arrival and two instances never collide. Only this shape is ever turned into a file name,
/// so an id typed at the command line cannot name a path outside the spool.
/// </summary>
internal static class QueueId
{
    public const int Length = 20;

    public static string Create(DateTimeOffset now)
    {
        Span<byte> random = stackalloc byte[4];
        RandomNumberGenerator.Fill(random);
        return now.ToUnixTimeMilliseconds().ToString("x12", System.Globalization.CultureInfo.InvariantCulture)
            + Convert.ToHexStringLower(random);
    }

    public static bool IsValid(string? id)
    {
        if (id is null || id.Length != Length)
        {
            return false;
        }

        foreach (char c in id)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
