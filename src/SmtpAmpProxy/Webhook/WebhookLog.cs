using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Logging;

namespace SmtpAmpProxy.Webhook;

/// <summary>Log events of the Event Webhook and X-SMTPAPI tagging (ids in <see cref="EventIds.Webhook"/>).</summary>
internal static partial class WebhookLog
{
    [LoggerMessage(EventId = EventIds.Webhook.Listening, Level = LogLevel.Information,
        Message = "SendGrid Event Webhook listening on {Url} (POST /webhooks/sendgrid)")]
    public static partial void Listening(ILogger logger, string url);

    [LoggerMessage(EventId = EventIds.Webhook.Refused, Level = LogLevel.Warning,
        Message = "webhook-refused client={Client} status={Status} result={Result}")]
    public static partial void Refused(ILogger logger, string client, int status, string result);

    [LoggerMessage(EventId = EventIds.Webhook.Batch, Level = LogLevel.Debug,
        Message = "webhook-batch client={Client} events={Events} bytes={Bytes}")]
    public static partial void Batch(ILogger logger, string client, long events, int bytes);

    [LoggerMessage(EventId = EventIds.Webhook.Untagged, Level = LogLevel.Warning,
        Message = "smtpapi-untagged session={SessionId} msgid={MessageId} reason={Reason} detail=\"{Detail}\"")]
    public static partial void Untagged(ILogger logger, long sessionId, string? messageId, string reason, string detail);
}
