using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>
/// Log events of the upstream client and its pool (ids in <see cref="SmtpEventIds.Client"/>).
/// No event carries a password or an AUTH exchange: the transcript redacts them.
/// </summary>
internal static partial class ClientLog
{
    [LoggerMessage(SmtpEventIds.Client.Connecting, LogLevel.Debug, "Upstream {ConnectionId}: connecting to {Host}:{Port} ({Tls})")]
    public static partial void Connecting(ILogger logger, long connectionId, string host, int port, TlsMode tls);

    [LoggerMessage(SmtpEventIds.Client.Ready, LogLevel.Debug, "Upstream {ConnectionId}: ready, TLS {TlsProtocol}, extensions {Extensions}")]
    public static partial void Ready(ILogger logger, long connectionId, string tlsProtocol, string extensions);

    [LoggerMessage(SmtpEventIds.Client.CertificateRejected, LogLevel.Warning, "Upstream certificate for {Host} rejected: {PolicyErrors} {ChainStatus}")]
    public static partial void CertificateRejected(ILogger logger, string host, string policyErrors, string chainStatus);

    [LoggerMessage(SmtpEventIds.Client.Authenticated, LogLevel.Debug, "Upstream {ConnectionId}: authenticated with {Mechanism}")]
    public static partial void Authenticated(ILogger logger, long connectionId, string mechanism);

    [LoggerMessage(SmtpEventIds.Client.ConnectFailed, LogLevel.Warning, "Upstream {ConnectionId}: connection to {Host}:{Port} failed at {Stage} (timeout: {IsTimeout}): {Reason}")]
    public static partial void ConnectFailed(ILogger logger, long connectionId, string host, int port, SmtpFailureStage stage, bool isTimeout, string reason);

    [LoggerMessage(SmtpEventIds.Client.Broken, LogLevel.Warning, "Upstream {ConnectionId}: connection lost at {Stage} (timeout: {IsTimeout}): {Reason}")]
    public static partial void Broken(ILogger logger, long connectionId, SmtpFailureStage stage, bool isTimeout, string reason);

    [LoggerMessage(SmtpEventIds.Client.Sent, LogLevel.Trace, "Upstream {ConnectionId} C: {Line}")]
    public static partial void Sent(ILogger logger, long connectionId, string line);

    [LoggerMessage(SmtpEventIds.Client.Received, LogLevel.Trace, "Upstream {ConnectionId} S: {Reply}")]
    public static partial void Received(ILogger logger, long connectionId, SmtpReply reply);

    [LoggerMessage(SmtpEventIds.Client.Closed, LogLevel.Debug, "Upstream {ConnectionId}: closed after {Messages} messages")]
    public static partial void Closed(ILogger logger, long connectionId, int messages);

    [LoggerMessage(SmtpEventIds.Client.PoolOpened, LogLevel.Debug, "Upstream pool: opened connection {ConnectionId} ({Total} in total)")]
    public static partial void PoolOpened(ILogger logger, long connectionId, int total);

    [LoggerMessage(SmtpEventIds.Client.PoolIdleExpired, LogLevel.Debug, "Upstream pool: connection {ConnectionId} idle past the idle timeout, closing")]
    public static partial void PoolIdleExpired(ILogger logger, long connectionId);

    [LoggerMessage(SmtpEventIds.Client.PoolIdleDead, LogLevel.Information, "Upstream pool: idle connection {ConnectionId} found closed by the upstream ({Reason}), replacing it")]
    public static partial void PoolIdleDead(ILogger logger, long connectionId, string reason);

    [LoggerMessage(SmtpEventIds.Client.PoolRetired, LogLevel.Debug, "Upstream pool: connection {ConnectionId} retired after {Messages} messages")]
    public static partial void PoolRetired(ILogger logger, long connectionId, int messages);

    [LoggerMessage(SmtpEventIds.Client.PoolDiscarded, LogLevel.Debug, "Upstream pool: connection {ConnectionId} discarded ({Reason})")]
    public static partial void PoolDiscarded(ILogger logger, long connectionId, string reason);
}
