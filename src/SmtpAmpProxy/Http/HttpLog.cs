using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Logging;

namespace SmtpAmpProxy.Http;

/// <summary>Log events of the operations endpoint (ids in <see cref="EventIds.Http"/>).</summary>
internal static partial class HttpLog
{
    [LoggerMessage(EventId = EventIds.Http.Listening, Level = LogLevel.Information,
        Message = "HTTP listening on {Url} (/healthz, /readyz, /metrics)")]
    public static partial void Listening(ILogger logger, string url);

    [LoggerMessage(EventId = EventIds.Http.Disabled, Level = LogLevel.Information, Message = "HTTP endpoint disabled (Proxy:Http:Endpoint is '{Endpoint}')")]
    public static partial void Disabled(ILogger logger, string endpoint);

    [LoggerMessage(EventId = EventIds.Http.NotReady, Level = LogLevel.Warning, Message = "Not ready: {Reason}")]
    public static partial void NotReady(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.Http.Ready, Level = LogLevel.Information, Message = "Ready")]
    public static partial void Ready(ILogger logger);
}
