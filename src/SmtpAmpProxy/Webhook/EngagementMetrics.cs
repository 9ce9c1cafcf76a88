using System.Diagnostics.Metrics;
using SmtpAmpProxy.Metrics;

namespace SmtpAmpProxy.Webhook;

/// <summary>
/// The webhook's instruments, on the appliance's one meter so every exporter of it sees them:
/// <c>smtp_amp_proxy_engagement_events_total{event,content,outcome}</c> and
/// <c>smtp_amp_proxy_webhook_requests_total{result}</c> in Prometheus' naming.
/// </summary>
internal sealed class EngagementMetrics
{
    /// <summary>Values of the <c>result</c> tag of the request counter.</summary>
    public const string Accepted = "accepted";
    public const string Unsigned = "unsigned";
    public const string BadSignature = "bad-signature";
    public const string Stale = "stale";
    public const string TooLarge = "too-large";
    public const string Malformed = "malformed";
    public const string Timeout = "timeout";
    public const string Duplicate = "duplicate";

    private readonly Counter<long> _events;
    private readonly Counter<long> _requests;

    public EngagementMetrics(ProxyMetrics metrics)
    {
        _events = metrics.Meter.CreateCounter<long>("smtp_amp_proxy.engagement.events", "{event}",
            "SendGrid Event Webhook events, by event, content (amp or html for opens and clicks) and what the proxy did to the message");
        _requests = metrics.Meter.CreateCounter<long>("smtp_amp_proxy.webhook.requests", "{request}",
            "Event Webhook requests, by result: accepted, or why they were refused");

        // Present from the start at zero, like the relay's counters, so dashboards and alerts have a series.
        _events.Add(0);
        _requests.Add(0);
    }

    public void Request(string result) => _requests.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Events(IReadOnlyDictionary<EngagementKey, long> counts)
    {
        foreach (var (key, count) in counts)
        {
            _events.Add(count,
                new KeyValuePair<string, object?>("event", key.Event),
                new KeyValuePair<string, object?>("content", key.Content),
                new KeyValuePair<string, object?>("outcome", key.Outcome));
        }
    }
}
