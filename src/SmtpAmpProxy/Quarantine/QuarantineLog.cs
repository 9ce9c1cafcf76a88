using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Logging;

namespace SmtpAmpProxy.Quarantine;

/// <summary>Quarantine events (ids in <see cref="EventIds.Quarantine"/>).</summary>
internal static partial class QuarantineLog
{
    [LoggerMessage(EventId = EventIds.Quarantine.Kept, Level = LogLevel.Information,
        Message = "quarantined session={SessionId} msgid={MessageId} code={Code} id={QuarantineId} path={QuarantinePath}")]
    public static partial void Kept(ILogger logger, long sessionId, string? messageId, string? code, string quarantineId, string quarantinePath);

    [LoggerMessage(EventId = EventIds.Quarantine.Failed, Level = LogLevel.Warning,
        Message = "quarantine-failed session={SessionId} msgid={MessageId} directory={Directory} reason=\"{Reason}\"")]
    public static partial void Failed(ILogger logger, long sessionId, string? messageId, string directory, string reason);

    [LoggerMessage(EventId = EventIds.Quarantine.Pruned, Level = LogLevel.Information,
        Message = "quarantine-pruned removed={Removed} bytes={Bytes} limit={MaxTotalBytes}")]
    public static partial void Pruned(ILogger logger, int removed, long bytes, long maxTotalBytes);
}
