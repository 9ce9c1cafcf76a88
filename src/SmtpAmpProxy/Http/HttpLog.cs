using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Http;

/// <summary>Log events of the operations endpoint: ids 3200–3299 of the appliance's 3000–3999 range.</summary>
internal static partial class HttpLog
{
    [LoggerMessage(EventId = 3200, Level = LogLevel.Information,
        Message = "HTTP listening on {Url} (/healthz, /readyz, /metrics)")]
    public static partial void Listening(ILogger logger, string url);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "HTTP endpoint disabled (Proxy:Http:Endpoint is '{Endpoint}')")]
    public static partial void Disabled(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Not ready: {Reason}")]
    public static partial void NotReady(ILogger logger, string reason);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Information, Message = "Ready")]
    public static partial void Ready(ILogger logger);
}
