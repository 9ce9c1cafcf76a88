using System.Diagnostics.Metrics;

namespace SmtpAmpProxy.Queue;

/// <summary>
/// The queue's instruments, on the appliance's meter so every exporter that reads it sees them:
/// what is waiting (messages, bytes, age of the oldest) and what happened to recipients.
/// </summary>
internal sealed class QueueMetrics
{
    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _deferrals;
    private readonly Counter<long> _bounces;

    public QueueMetrics(Meter meter, Func<(int Messages, long Bytes, double OldestAgeSeconds)> observe)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(observe);
        meter.CreateObservableGauge("smtp_amp_proxy.queue.messages", () => observe().Messages, "{message}",
            "Messages in the spool");
        meter.CreateObservableGauge("smtp_amp_proxy.queue.bytes", () => observe().Bytes, "By",
            "Bytes in the spool, content and state");
        meter.CreateObservableGauge("smtp_amp_proxy.queue.oldest_age", () => observe().OldestAgeSeconds, "s",
            "Time since the oldest message in the spool arrived");
        _deliveries = meter.CreateCounter<long>("smtp_amp_proxy.queue.deliveries", "{recipient}",
            "Recipients whose delivery ended, by outcome (delivered, failed)");
        _deferrals = meter.CreateCounter<long>("smtp_amp_proxy.queue.deferrals", "{recipient}",
            "Recipients refused for now and scheduled again");
        _bounces = meter.CreateCounter<long>("smtp_amp_proxy.queue.bounces", "{message}",
            "Delivery status notifications queued");
    }

    public void Delivered(int recipients) => Add(_deliveries, recipients, "delivered");

    public void Failed(int recipients) => Add(_deliveries, recipients, "failed");

    public void Deferred(int recipients)
    {
        if (recipients > 0)
        {
            _deferrals.Add(recipients);
        }
    }

    public void Bounced() => _bounces.Add(1);

    private static void Add(Counter<long> counter, int count, string outcome)
    {
        if (count > 0)
        {
            counter.Add(count, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }
}
