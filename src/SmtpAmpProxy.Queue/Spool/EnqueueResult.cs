namespace SmtpAmpProxy.Queue.Spool;

internal enum EnqueueStatus
{
    /// <summary>Content and envelope are durable: the sender may be told 250.</summary>
    Accepted,

    /// <summary>The spool holds <see cref="QueueOptions.MaxBytes"/> already (452 4.3.1).</summary>
    SpoolFull,

    /// <summary>The file system ran out of space or quota while writing (452 4.3.1).</summary>
    DiskFull,

    /// <summary>Any other write failure (451 4.3.0); nothing of the message is left behind.</summary>
    Failed,
}

/// <param name="QueueId">The id under which the message is spooled, when <see cref="EnqueueStatus.Accepted"/>.</param>
/// <param name="Reason">Why it was not accepted, for the log.</param>
internal readonly record struct EnqueueResult(EnqueueStatus Status, string? QueueId, string? Reason)
{
    public bool IsAccepted => Status == EnqueueStatus.Accepted;
}
