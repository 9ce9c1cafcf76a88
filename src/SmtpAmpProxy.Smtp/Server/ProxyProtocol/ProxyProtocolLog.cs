using System.Net;
using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Smtp.Server.ProxyProtocol;

/// <summary>PROXY protocol events (ids in <see cref="SmtpEventIds.ProxyProtocol"/>). The peer is the socket's address (the balancer).</summary>
internal static partial class ProxyProtocolLog
{
    [LoggerMessage(SmtpEventIds.ProxyProtocol.Untrusted, LogLevel.Warning, "Connection from {Peer} closed: not a trusted PROXY protocol sender (Proxy:ProxyProtocol:TrustedNetworks)")]
    public static partial void Untrusted(ILogger logger, IPEndPoint peer);

    [LoggerMessage(SmtpEventIds.ProxyProtocol.HeaderTimeout, LogLevel.Warning, "Connection from {Peer} closed: no complete PROXY header within {Timeout}")]
    public static partial void HeaderTimeout(ILogger logger, IPEndPoint peer, TimeSpan timeout);

    [LoggerMessage(SmtpEventIds.ProxyProtocol.HeaderMalformed, LogLevel.Warning, "Connection from {Peer} closed: malformed PROXY header ({Error}: {Reason})")]
    public static partial void HeaderMalformed(ILogger logger, IPEndPoint peer, ProxyProtocolError error, string reason);

    [LoggerMessage(SmtpEventIds.ProxyProtocol.ClosedBeforeHeader, LogLevel.Debug, "Connection from {Peer} closed before its PROXY header")]
    public static partial void ClosedBeforeHeader(ILogger logger, IPEndPoint peer);

    [LoggerMessage(SmtpEventIds.ProxyProtocol.HeaderAccepted, LogLevel.Debug, "PROXY v{Version} {Command} from {Peer}: client {Client}")]
    public static partial void HeaderAccepted(ILogger logger, int version, ProxyCommand command, IPEndPoint peer, IPEndPoint client);
}
