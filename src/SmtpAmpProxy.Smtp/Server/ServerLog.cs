using System.Net;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// Server log events (ids in <see cref="SmtpEventIds.Server"/>). Credentials never appear here:
/// AUTH events carry the mechanism and the outcome, the user name only once it is authenticated.
/// </summary>
internal static partial class ServerLog
{
    [LoggerMessage(SmtpEventIds.Server.ListenerStarted, LogLevel.Information, "SMTP listener on {EndPoint} ({Tls})")]
    public static partial void ListenerStarted(ILogger logger, IPEndPoint endPoint, TlsMode tls);

    [LoggerMessage(SmtpEventIds.Server.Stopping, LogLevel.Information, "SMTP server stopping with {Sessions} open sessions")]
    public static partial void Stopping(ILogger logger, int sessions);

    [LoggerMessage(SmtpEventIds.Server.AcceptFailed, LogLevel.Error, "Accepting on {EndPoint} failed")]
    public static partial void AcceptFailed(ILogger logger, IPEndPoint endPoint, Exception exception);

    [LoggerMessage(SmtpEventIds.Server.StaleSpillFilesRemoved, LogLevel.Warning, "Removed {Count} spill files left by an earlier process in {Path}")]
    public static partial void StaleSpillFilesRemoved(ILogger logger, int count, string path);

    [LoggerMessage(SmtpEventIds.Server.SpillSweepFailed, LogLevel.Warning, "Could not look for stale spill files in {Path}: {Reason}")]
    public static partial void SpillSweepFailed(ILogger logger, string path, string reason);

    [LoggerMessage(SmtpEventIds.Server.SessionStarted, LogLevel.Debug, "Session {SessionId} from {Remote} to {Local} started")]
    public static partial void SessionStarted(ILogger logger, long sessionId, IPEndPoint remote, IPEndPoint local);

    [LoggerMessage(SmtpEventIds.Server.SessionEnded, LogLevel.Debug, "Session {SessionId} from {Remote} ended after {Commands} commands, {Messages} messages")]
    public static partial void SessionEnded(ILogger logger, long sessionId, IPEndPoint remote, int commands, int messages);

    [LoggerMessage(SmtpEventIds.Server.ConnectionRefused, LogLevel.Warning, "Connection from {Remote} refused: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, IPEndPoint remote, string reason);

    [LoggerMessage(SmtpEventIds.Server.SessionFailed, LogLevel.Error, "Session {SessionId} from {Remote} failed")]
    public static partial void SessionFailed(ILogger logger, long sessionId, IPEndPoint remote, Exception exception);

    [LoggerMessage(SmtpEventIds.Server.ConnectionLost, LogLevel.Debug, "Session {SessionId} from {Remote}: connection lost")]
    public static partial void ConnectionLost(ILogger logger, long sessionId, IPEndPoint remote);

    [LoggerMessage(SmtpEventIds.Server.TlsHandshakeFailed, LogLevel.Warning, "Session {SessionId} from {Remote}: TLS handshake failed: {Reason}")]
    public static partial void TlsHandshakeFailed(ILogger logger, long sessionId, IPEndPoint remote, string reason);

    [LoggerMessage(SmtpEventIds.Server.TlsEstablished, LogLevel.Debug, "Session {SessionId} from {Remote}: TLS {Protocol} {Cipher}")]
    public static partial void TlsEstablished(ILogger logger, long sessionId, IPEndPoint remote, string protocol, string cipher);

    [LoggerMessage(SmtpEventIds.Server.PlaintextAfterStartTls, LogLevel.Warning, "Session {SessionId} from {Remote}: discarded {Bytes} plaintext bytes sent after STARTTLS")]
    public static partial void PlaintextAfterStartTls(ILogger logger, long sessionId, IPEndPoint remote, long bytes);

    [LoggerMessage(SmtpEventIds.Server.ProtocolError, LogLevel.Information, "Session {SessionId} from {Remote}: protocol error {Code} {EnhancedCode} {Text}")]
    public static partial void ProtocolError(ILogger logger, long sessionId, IPEndPoint remote, int code, string enhancedCode, string text);

    [LoggerMessage(SmtpEventIds.Server.Timeout, LogLevel.Warning, "Session {SessionId} from {Remote}: timeout exceeded")]
    public static partial void Timeout(ILogger logger, long sessionId, IPEndPoint remote);

    [LoggerMessage(SmtpEventIds.Server.TooManyErrors, LogLevel.Warning, "Session {SessionId} from {Remote}: too many errors")]
    public static partial void TooManyErrors(ILogger logger, long sessionId, IPEndPoint remote);

    [LoggerMessage(SmtpEventIds.Server.MessageRefused, LogLevel.Warning, "Session {SessionId} from {Remote}: message refused: {Reason}")]
    public static partial void MessageRefused(ILogger logger, long sessionId, IPEndPoint remote, string reason);

    [LoggerMessage(SmtpEventIds.Server.RelayDenied, LogLevel.Warning, "Session {SessionId} from {Remote}: relay denied for {Recipient}")]
    public static partial void RelayDenied(ILogger logger, long sessionId, IPEndPoint remote, string recipient);

    [LoggerMessage(SmtpEventIds.Server.AuthSucceeded, LogLevel.Information, "Session {SessionId} from {Remote}: authenticated as {User} ({Mechanism})")]
    public static partial void AuthSucceeded(ILogger logger, long sessionId, IPEndPoint remote, string user, string mechanism);

    [LoggerMessage(SmtpEventIds.Server.AuthFailed, LogLevel.Warning, "Session {SessionId} from {Remote}: authentication failed ({Mechanism})")]
    public static partial void AuthFailed(ILogger logger, long sessionId, IPEndPoint remote, string mechanism);

    [LoggerMessage(SmtpEventIds.Server.AuthLockedOut, LogLevel.Warning, "Session {SessionId} from {Remote}: too many authentication failures from this address, closing")]
    public static partial void AuthLockedOut(ILogger logger, long sessionId, IPEndPoint remote);

    [LoggerMessage(SmtpEventIds.Server.DataTooSlow, LogLevel.Warning, "Session {SessionId} from {Remote}: data rate below {MinRate} bytes/s ({Bytes} bytes in {Seconds:0.#} s)")]
    public static partial void DataTooSlow(ILogger logger, long sessionId, IPEndPoint remote, int minRate, long bytes, double seconds);

    [LoggerMessage(SmtpEventIds.Server.SenderVanishedInData, LogLevel.Information,
        "{Outcome} session={SessionId} client={Remote} in DATA after {Bytes} bytes and {Seconds:0.#} s; nothing relayed")]
    public static partial void SenderVanishedInData(ILogger logger, string outcome, long sessionId, IPEndPoint remote, long bytes, double seconds);

    [LoggerMessage(SmtpEventIds.Server.SpillFailed, LogLevel.Error, "Session {SessionId} from {Remote}: message spill to {Path} failed, answered 452 4.3.1: {Reason}")]
    public static partial void SpillFailed(ILogger logger, long sessionId, IPEndPoint remote, string path, string reason);

    [LoggerMessage(SmtpEventIds.Server.DeadlinePassed, LogLevel.Warning, "Session {SessionId} from {Remote}: {Phase} deadline of {Seconds:0.#} s passed")]
    public static partial void DeadlinePassed(ILogger logger, long sessionId, IPEndPoint remote, string phase, double seconds);

    [LoggerMessage(SmtpEventIds.Server.HandlerFailed, LogLevel.Error, "Session {SessionId} from {Remote}: handler failed in {Stage}")]
    public static partial void HandlerFailed(ILogger logger, long sessionId, IPEndPoint remote, string stage, Exception exception);
}
