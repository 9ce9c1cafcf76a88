namespace SmtpAmpProxy.Queue;

/// <summary>The spool and its delivery schedule (<c>Proxy:Queue</c>).</summary>
internal sealed record QueueOptions
{
    /// <summary>The spool; one per instance, on storage that survives a restart.</summary>
    public required string Directory { get; init; }

    /// <summary>Spooled bytes (messages and their state files) beyond which new mail is refused with 452 4.3.1.</summary>
    public long MaxBytes { get; init; } = 10L * 1024 * 1024 * 1024;

    /// <summary>The first retry's delay; each later one doubles it (Postfix <c>minimal_backoff_time</c>, 300 s).</summary>
    public TimeSpan MinimalBackoff { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>The longest delay between two attempts (Postfix <c>maximal_backoff_time</c>, 4000 s).</summary>
    public TimeSpan MaximalBackoff { get; init; } = TimeSpan.FromSeconds(4000);

    /// <summary>Recipients still undelivered this long after arrival fail (Postfix <c>maximal_queue_lifetime</c>, 5 days).</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromDays(5);

    /// <summary>When set, every delivery status notification goes to this address instead of the envelope sender.</summary>
    public string? BounceTo { get; init; }

    /// <summary>Messages delivered at the same time; each holds one upstream connection while it is sent.</summary>
    public int Workers { get; init; } = 8;

    /// <summary>The name the notifications give as <c>Reporting-MTA</c> and in their sender address.</summary>
    public string ReportingMta { get; init; } = "localhost";

    /// <summary>Size past which the intake log starts a new segment; not an operator's setting (tests make it small).</summary>
    internal long IntakeSegmentBytes { get; init; } = Spool.IntakeLog.DefaultSegmentBytes;
}
