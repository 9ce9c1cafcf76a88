using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Queue;

/// <summary>
/// Log events of the queue (ids in <see cref="QueueEventIds"/>). One <see cref="DeliveryAttempt"/> line per attempt is what an operator
/// follows a queued message by: <c>jq 'select(.EventId == 4100 and .State.QueueId == "…")'</c>.
/// </summary>
internal static partial class QueueLog
{
    [LoggerMessage(QueueEventIds.Queue.Opened, LogLevel.Information, "Spool {Directory} opened: {Count} messages, {Bytes} bytes")]
    public static partial void Opened(ILogger logger, string directory, int count, long bytes);

    [LoggerMessage(QueueEventIds.Queue.PartialFileRemoved, LogLevel.Warning, "Spool: removed {Path}, written only in part before a stop")]
    public static partial void PartialFileRemoved(ILogger logger, string path);

    [LoggerMessage(QueueEventIds.Queue.CorruptStateMoved, LogLevel.Error, "Spool: state of {QueueId} unreadable; message moved to {Folder}")]
    public static partial void CorruptStateMoved(ILogger logger, string queueId, string folder);

    [LoggerMessage(QueueEventIds.Queue.WriteFailed, LogLevel.Warning, "Spool: {QueueId} not written: {Reason}")]
    public static partial void WriteFailed(ILogger logger, string queueId, string reason);

    [LoggerMessage(QueueEventIds.Queue.Queued, LogLevel.Information, "Queued {QueueId}: {Recipients} recipients, {Size} bytes")]
    public static partial void Queued(ILogger logger, string queueId, int recipients, long size);

    [LoggerMessage(QueueEventIds.Queue.IntakeTailCut, LogLevel.Warning, "Spool: cut {Bytes} bytes off the end of {Path}, written only in part before a stop; kept in {Copy}")]
    public static partial void IntakeTailCut(ILogger logger, string path, long bytes, string copy);

    [LoggerMessage(QueueEventIds.Queue.IntakeWriteFailed, LogLevel.Error, "Spool: intake log {Path} not written: {Reason}")]
    public static partial void IntakeWriteFailed(ILogger logger, string path, string reason);

    [LoggerMessage(QueueEventIds.Queue.IntakeRecordUnreadable, LogLevel.Error, "Spool: record at {Offset} of {Path} is whole but its state unreadable; skipped, kept in {Copy}")]
    public static partial void IntakeRecordUnreadable(ILogger logger, string path, long offset, string? copy);

    [LoggerMessage(QueueEventIds.Queue.IntakeDamaged, LogLevel.Error,
        "Spool: {Path} is damaged from {Offset} on (it was whole when written); the rest is not read, kept in {Copy}")]
    public static partial void IntakeDamaged(ILogger logger, string path, long offset, string copy);

    [LoggerMessage(QueueEventIds.Queue.DeliveryAttempt, LogLevel.Information,
        "Delivery {QueueId} attempt {Attempt}: {Delivered} delivered, {Deferred} deferred, {Failed} failed; {Outcomes}")]
    public static partial void DeliveryAttempt(ILogger logger, string queueId, int attempt, int delivered, int deferred, int failed, string outcomes);

    [LoggerMessage(QueueEventIds.Queue.BounceQueued, LogLevel.Information, "Notification {BounceId} queued to {Recipient} for {QueueId}: {Failed} failed recipients")]
    public static partial void BounceQueued(ILogger logger, string bounceId, string recipient, string queueId, int failed);

    [LoggerMessage(QueueEventIds.Queue.BounceSkipped, LogLevel.Warning, "No notification for {QueueId}: {Reason}")]
    public static partial void BounceSkipped(ILogger logger, string queueId, string reason);

    [LoggerMessage(QueueEventIds.Queue.Removed, LogLevel.Information, "Removed {QueueId}: {Reason}")]
    public static partial void Removed(ILogger logger, string queueId, string reason);

    [LoggerMessage(QueueEventIds.Queue.StateNotSaved, LogLevel.Error, "Delivery {QueueId} could not be recorded: {Reason}")]
    public static partial void StateNotSaved(ILogger logger, string queueId, string reason);

    [LoggerMessage(QueueEventIds.Queue.ControlListening, LogLevel.Information, "Queue control listening on {Path}")]
    public static partial void ControlListening(ILogger logger, string path);

    [LoggerMessage(QueueEventIds.Queue.ControlCommand, LogLevel.Information, "Queue control: {Command} ({Result})")]
    public static partial void ControlCommand(ILogger logger, string command, string result);
}
