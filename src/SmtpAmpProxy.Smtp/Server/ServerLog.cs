using System.Net;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// Server log events, ids 1000-1999 (the SMTP client uses its own range). Credentials never appear here:
/// AUTH events carry the mechanism and the outcome, the user name only once it is authenticated.
/// </summary>
internal static partial class ServerLog
{
    [LoggerMessage(1000, LogLevel.Information, "SMTP listener on {EndPoint} ({Tls})")]
    public static partial void ListenerStarted(ILogger logger, IPEndPoint endPoint, TlsMode tls);

    [LoggerMessage(1001, LogLevel.Information, "SMTP server stopping with {Sessions} open sessions")]
    public static partial void Stopping(ILogger logger, int sessions);

    [LoggerMessage(1002, LogLevel.Error, "Accepting on {EndPoint} failed")]
    public static partial void AcceptFailed(ILogger logger, IPEndPoint endPoint, Exception exception);

    [LoggerMessage(1003, LogLevel.Warning, "Removed {Count} spill files left by an earlier process in {Path}")]
    public static partial void StaleSpillFilesRemoved(ILogger logger, int count, string path);

    [LoggerMessage(1004, LogLevel.Warning, "Could not look for stale spill files in {Path}: {Reason}")]
    public static partial void SpillSweepFailed(ILogger logger, string path, string reason);

    [LoggerMessage(1010, LogLevel.Debug, "Session {SessionId} from {Remote} to {Local} started")]
    public static partial void SessionStarted(ILogger logger, long sessionId, IPEndPoint remote, IPEndPoint local);

    [LoggerMessage(1011, LogLevel.Debug, "Session {SessionId} from {Remote} ended after {Commands} commands, {Messages} messages")]
    public static partial void SessionEnded(ILogger logger, long sessionId, IPEndPoint remote, int commands, int messages);

    [LoggerMessage(1012, LogLevel.Warning, "Connection from {Remote} refused: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, IPEndPoint remote, string reason);

    [LoggerMessage(1013, LogLevel.Error, "Session {SessionId} from {Remote} failed")]
    public static partial void SessionFailed(ILogger logger, long sessionId, IPEndPoint remote, Exception exception);

    [LoggerMessage(1014, LogLevel.Debug, "Session {SessionId} from {Remote}: connection lost")]
    public static partial void ConnectionLost(ILogger logger, long sessionId, IPEndPoint remote);

    [LoggerMessage(1020, LogLevel.Warning, "Session {SessionId} from {Remote}: TLS handshake failed: {Reason}")]
    public static partial void TlsHandshakeFailed(ILogger logger, long sessionId, IPEndPoint remote, string reason);

    [LoggerMessage(1021, LogLevel.Debug, "Session {SessionId} from {Remote}: TLS {Protocol} {Cipher}")]
    public static partial void TlsEstablished(ILogger logger, long sessionId, IPEndPoint remote, string protocol, string cipher);

    [LoggerMessage(1022, LogLevel.Warning, "Session {SessionId} from {Remote}: discarded {Bytes} plaintext bytes sent after STARTTLS")]
    public static partial void PlaintextAfterStartTls(ILogger logger, long sessionId, IPEndPoint remote, long bytes);

    [LoggerMessage(1030, LogLevel.Information, "Session {SessionId} from {Remote}: protocol error {Code} {EnhancedCode} {Text}")]
    public static partial void ProtocolError(ILogger logger, long sessionId, IPEndPoint remote, int code, string enhancedCode, string text);

    [LoggerMessage(1031, LogLevel.Warning, "Session {SessionId} from {Remote}: timeout exceeded")]
    public static partial void Timeout(ILogger logger, long sessionId, IPEndPoint remote);

    [LoggerMessage(1032, LogLevel.Warning, "Session {SessionId} from {Remote}: too many errors")]
    public static partial void TooManyErrors(ILogger logger, long sessionId, IPEndPoint remote);

    [LoggerMessage(1033, LogLevel.Warning, "Session {SessionId} from {Remote}: message refused: {Reason}")]
    public static partial void MessageRefused(ILogger logger, long sessionId, IPEndPoint remote, string reason);

    [LoggerMessage(1034, LogLevel.Warning, "Session {SessionId} from {Remote}: relay denied for {Recipient}")]
    public static partial void RelayDenied(ILogger logger, long sessionId, IPEndPoint remote, string recipient);

    [LoggerMessage(1040, LogLevel.Information, "Session {SessionId} from {Remote}: authenticated as {User} ({Mechanism})")]
    public static partial void AuthSucceeded(ILogger logger, long sessionId, IPEndPoint remote, string user, string mechanism);

    [LoggerMessage(1041, LogLevel.Warning, "Session {SessionId} from {Remote}: authentication failed ({Mechanism})")]
    public static partial void AuthFailed(ILogger logger, long sessionId, IPEndPoint remote, string mechanism);

    [LoggerMessage(1042, LogLevel.Warning, "Session {SessionId} from {Remote}: too many authentication failures from this address, closing")]
    public static partial void AuthLockedOut(ILogger logger, long sessionId, IPEndPoint remote);

    [LoggerMessage(1035, LogLevel.Warning, "Session {SessionId} from {Remote}: data rate below {MinRate} bytes/s ({Bytes} bytes in {Seconds:0.#} s)")]
    public static partial void DataTooSlow(ILogger logger, long sessionId, IPEndPoint remote, int minRate, long bytes, double seconds);

    [LoggerMessage(1036, LogLevel.Information,
        "{Outcome} session={SessionId} client={Remote} in DATA after {Bytes} bytes and {Seconds:0.#} s; nothing relayed")]
    public static partial void SenderVanishedInData(ILogger logger, string outcome, long sessionId, IPEndPoint remote, long bytes, double seconds);

    [LoggerMessage(1037, LogLevel.Error, "Session {SessionId} from {Remote}: message spill to {Path} failed, answered 452 4.3.1: {Reason}")]
    public static partial void SpillFailed(ILogger logger, long sessionId, IPEndPoint remote, string path, string reason);

    [LoggerMessage(1038, LogLevel.Warning, "Session {SessionId} from {Remote}: {Phase} deadline of {Seconds:0.#} s passed")]
    public static partial void DeadlinePassed(ILogger logger, long sessionId, IPEndPoint remote, string phase, double seconds);

    [LoggerMessage(1050, LogLevel.Error, "Session {SessionId} from {Remote}: handler failed in {Stage}")]
    public static partial void HandlerFailed(ILogger logger, long sessionId, IPEndPoint remote, string stage, Exception exception);
}
