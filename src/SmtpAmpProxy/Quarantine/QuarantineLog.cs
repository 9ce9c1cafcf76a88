using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Quarantine;

/// <summary>Quarantine events, ids 3150-3159 of the message-outcome range (see Logging/ProxyLog.cs).</summary>
internal static partial class QuarantineLog
{
    [LoggerMessage(EventId = 3150, Level = LogLevel.Information,
        Message = "quarantined session={SessionId} msgid={MessageId} code={Code} id={QuarantineId} path={QuarantinePath}")]
    public static partial void Kept(ILogger logger, long sessionId, string? messageId, string? code, string quarantineId, string quarantinePath);

    [LoggerMessage(EventId = 3151, Level = LogLevel.Warning,
        Message = "quarantine-failed session={SessionId} msgid={MessageId} directory={Directory} reason=\"{Reason}\"")]
    public static partial void Failed(ILogger logger, long sessionId, string? messageId, string directory, string reason);

    [LoggerMessage(EventId = 3152, Level = LogLevel.Information,
        Message = "quarantine-pruned removed={Removed} bytes={Bytes} limit={MaxTotalBytes}")]
    public static partial void Pruned(ILogger logger, int removed, long bytes, long maxTotalBytes);
}
