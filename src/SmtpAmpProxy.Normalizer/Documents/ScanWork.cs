namespace SmtpAmpProxy.Normalizer.Documents;

/// <summary>
/// Bytes the AMP document scan searched or stepped over on this thread. Tests compare the count for a hostile
/// document of size N and 2N to prove the scan stays linear without timing anything; one thread-local add per
/// search or tag.
/// </summary>
internal static class ScanWork
{
    [ThreadStatic]
    private static long t_steps;

    public static long Steps => t_steps;

    public static void Add(long steps) => t_steps += steps;
}
