using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Queue;

/// <summary>
/// Log events of the queue, ids 4000–4999: 4000–4099 spool, 4100–4199 delivery and notifications,
/// 4200–4299 queue control. One <see cref="DeliveryAttempt"/> line per attempt is what an operator
/// follows a queued message by: <c>jq 'select(.EventId == 4100 and .State.QueueId == "…")'</c>.
/// </summary>
internal static partial class QueueLog
{
    [LoggerMessage(4000, LogLevel.Information, "Spool {Directory} opened: {Count} messages, {Bytes} bytes")]
    public static partial void Opened(ILogger logger, string directory, int count, long bytes);

    [LoggerMessage(4001, LogLevel.Warning, "Spool: removed {Path}, written only in part before a stop")]
    public static partial void PartialFileRemoved(ILogger logger, string path);

    [LoggerMessage(4002, LogLevel.Error, "Spool: state of {QueueId} unreadable; message moved to {Folder}")]
    public static partial void CorruptStateMoved(ILogger logger, string queueId, string folder);

    [LoggerMessage(4003, LogLevel.Warning, "Spool: {QueueId} not written: {Reason}")]
    public static partial void WriteFailed(ILogger logger, string queueId, string reason);

    [LoggerMessage(4004, LogLevel.Information, "Queued {QueueId}: {Recipients} recipients, {Size} bytes")]
    public static partial void Queued(ILogger logger, string queueId, int recipients, long size);

    [LoggerMessage(4005, LogLevel.Warning, "Spool: cut {Bytes} bytes off the end of {Path}, written only in part before a stop")]
    public static partial void IntakeTailCut(ILogger logger, string path, long bytes);

    [LoggerMessage(4006, LogLevel.Error, "Spool: intake log {Path} not written: {Reason}")]
    public static partial void IntakeWriteFailed(ILogger logger, string path, string reason);

    [LoggerMessage(4007, LogLevel.Error, "Spool: record at {Offset} of {Path} is whole but its state unreadable; skipped")]
    public static partial void IntakeRecordUnreadable(ILogger logger, string path, long offset);

    [LoggerMessage(4100, LogLevel.Information,
        "Delivery {QueueId} attempt {Attempt}: {Delivered} delivered, {Deferred} deferred, {Failed} failed; {Outcomes}")]
    public static partial void DeliveryAttempt(ILogger logger, string queueId, int attempt, int delivered, int deferred, int failed, string outcomes);

    [LoggerMessage(4101, LogLevel.Information, "Notification {BounceId} queued to {Recipient} for {QueueId}: {Failed} failed recipients")]
    public static partial void BounceQueued(ILogger logger, string bounceId, string recipient, string queueId, int failed);

    [LoggerMessage(4102, LogLevel.Warning, "No notification for {QueueId}: {Reason}")]
    public static partial void BounceSkipped(ILogger logger, string queueId, string reason);

    [LoggerMessage(4103, LogLevel.Information, "Removed {QueueId}: {Reason}")]
    public static partial void Removed(ILogger logger, string queueId, string reason);

    [LoggerMessage(4104, LogLevel.Error, "Delivery {QueueId} could not be recorded: {Reason}")]
    public static partial void StateNotSaved(ILogger logger, string queueId, string reason);

    [LoggerMessage(4200, LogLevel.Information, "Queue control listening on {Path}")]
    public static partial void ControlListening(ILogger logger, string path);

    [LoggerMessage(4201, LogLevel.Information, "Queue control: {Command} ({Result})")]
    public static partial void ControlCommand(ILogger logger, string command, string result);
}
