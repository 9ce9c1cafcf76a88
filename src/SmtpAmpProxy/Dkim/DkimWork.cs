namespace SmtpAmpProxy.Dkim;

/// <summary>
/// Bytes and items the DKIM code walked on this thread (header lines, values canonicalized, body bytes hashed,
/// segments cut). Tests compare the count for a hostile message of size N and 2N to prove the work stays
/// linear without timing anything; one thread-local add per field, value or segment.
/// </summary>
internal static class DkimWork
{
    [ThreadStatic]
    private static long t_steps;

    public static long Steps => t_steps;

    public static void Add(long steps) => t_steps += steps;
}
