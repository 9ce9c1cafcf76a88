using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Logging;

/// <summary>
/// The appliance's log events (ids in <see cref="EventIds"/>, which lists the project's ranges). One <see cref="MessageOutcome"/> line per message is what operators filter with jq:
/// <c>jq 'select(.EventId == 3100 and .State.Outcome == "rejected")'</c>.
/// </summary>
internal static partial class ProxyLog
{
    [LoggerMessage(EventId = EventIds.Proxy.Listening, Level = LogLevel.Information,
        Message = "Listening on {EndPoint} (TLS {TlsMode}); upstream {Upstream}")]
    public static partial void Listening(ILogger logger, string endPoint, string tlsMode, string upstream);

    [LoggerMessage(EventId = EventIds.Proxy.StartTlsWithoutCertificate, Level = LogLevel.Warning,
        Message = "No certificate at {CertificatePath}: STARTTLS is not offered on {EndPoint}")]
    public static partial void StartTlsWithoutCertificate(ILogger logger, string certificatePath, string endPoint);

    [LoggerMessage(EventId = EventIds.Proxy.ConfigurationFile, Level = LogLevel.Information, Message = "Configuration read from {ConfigFile}")]
    public static partial void ConfigurationFile(ILogger logger, string configFile);

    [LoggerMessage(EventId = EventIds.Proxy.Draining, Level = LogLevel.Information, Message = "Stopping: draining sessions for up to {DrainSeconds} s")]
    public static partial void Draining(ILogger logger, double drainSeconds);

    [LoggerMessage(EventId = EventIds.Proxy.Stopped, Level = LogLevel.Information, Message = "Stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = EventIds.Proxy.SocketCompletionMode, Level = LogLevel.Information,
        Message = "Socket continuations run {Mode} (Proxy:Performance:InlineSocketCompletions)")]
    public static partial void SocketCompletionMode(ILogger logger, string mode);

    [LoggerMessage(EventId = EventIds.Proxy.BroadRelayNetwork, Level = LogLevel.Warning,
        Message = "Relay without AUTH is open to {Network} (Proxy:Access:AllowedNetworks): behind source NAT, a load balancer or a container network, outside clients can appear inside it. Name the senders' own networks, or set Proxy:Access:RequireAuth")]
    public static partial void BroadRelayNetwork(ILogger logger, string network);

    [LoggerMessage(EventId = EventIds.Proxy.MessageOutcome, Level = LogLevel.Information,
        Message = "{Outcome} session={SessionId} client={Client} from=<{Sender}> rcpts={Recipients} msgid={MessageId} size={Size} verdict={Verdict} actions={Actions} code={Code} upstream=\"{UpstreamReply}\" queueid={QueueId} ms={DurationMs}")]
    public static partial void MessageOutcome(ILogger logger, string outcome, long sessionId, string client, string sender,
        int recipients, string? messageId, long size, string verdict, string? actions, string? code, string? upstreamReply,
        string? queueId, double durationMs);

    [LoggerMessage(EventId = EventIds.Proxy.UpstreamFailed, Level = LogLevel.Warning,
        Message = "upstream-failed session={SessionId} client={Client} stage={Stage} timeout={IsTimeout} reason=\"{Reason}\"")]
    public static partial void UpstreamFailed(ILogger logger, long sessionId, string client, string stage, bool isTimeout, string reason);

    [LoggerMessage(EventId = EventIds.Proxy.AmpWarning, Level = LogLevel.Warning,
        Message = "amp-warning session={SessionId} msgid={MessageId} code={Code} detail=\"{Detail}\"")]
    public static partial void AmpWarning(ILogger logger, long sessionId, string? messageId, string code, string detail);

    [LoggerMessage(EventId = EventIds.Proxy.DkimOutcome, Level = LogLevel.Information,
        Message = "dkim session={SessionId} msgid={MessageId} dkim={DkimOutcome} detail=\"{Detail}\"")]
    public static partial void DkimOutcome(ILogger logger, long sessionId, string? messageId, string dkimOutcome, string detail);

    [LoggerMessage(EventId = EventIds.Proxy.UpstreamAuthFailed, Level = LogLevel.Error,
        Message = "upstream-auth-failed reason=\"{Reason}\": the upstream refuses the configured credentials (Proxy:Upstream:Username/Password); no login is tried while its back-off lasts")]
    public static partial void UpstreamAuthFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.Proxy.UpstreamReplaced, Level = LogLevel.Debug,
        Message = "upstream-replaced session={SessionId} stage={Stage} reason=\"{Reason}\": the envelope is replayed on another connection")]
    public static partial void UpstreamReplaced(ILogger logger, long sessionId, string stage, string reason);

    [LoggerMessage(EventId = EventIds.Proxy.LeaseReleased, Level = LogLevel.Debug,
        Message = "upstream-released session={SessionId} where={Where}: sender idle for {Seconds} s, connection given back")]
    public static partial void LeaseReleased(ILogger logger, long sessionId, string where, double seconds);
}
