namespace SmtpAmpProxy.Queue.Delivery;

/// <summary>
/// Exponential back-off: after the n-th failed attempt the next comes <c>MinimalBackoff · 2^(n-1)</c>
/// later, capped at <c>MaximalBackoff</c>. With Postfix's defaults (300 s and 4000 s) that is
/// 5, 10, 20, 40 minutes, then every 66⅔ minutes until <c>MaxLifetime</c>.
/// </summary>
internal sealed class RetrySchedule(QueueOptions options)
{
    public TimeSpan DelayAfter(int attempts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);
        // 2^20 times any sensible minimum is past any sensible maximum; the cap keeps the shift in range.
        int doublings = Math.Min(attempts - 1, 20);
        double seconds = options.MinimalBackoff.TotalSeconds * (1L << doublings);
        return seconds >= options.MaximalBackoff.TotalSeconds ? options.MaximalBackoff : TimeSpan.FromSeconds(seconds);
    }

    /// <summary>Whether a message that arrived at <paramref name="arrival"/> has outlived <see cref="QueueOptions.MaxLifetime"/>.</summary>
    public bool HasExpired(DateTimeOffset arrival, DateTimeOffset now) => now - arrival >= options.MaxLifetime;
}
