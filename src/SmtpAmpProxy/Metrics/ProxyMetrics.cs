using System.Diagnostics.Metrics;
using SmtpAmpProxy.Normalizer;

namespace SmtpAmpProxy.Metrics;

/// <summary>
/// The relay's instruments on the <c>SmtpAmpProxy</c> meter, and what the readiness check needs to
/// know about the upstream: the outcome of the last real exchange with it. Any MeterListener
/// (the <c>/metrics</c> endpoint, dotnet-counters, an OpenTelemetry SDK) can read the meter.
/// </summary>
internal sealed class ProxyMetrics
{
    public const string MeterName = "SmtpAmpProxy";

    /// <summary>Upstream failure kinds, the values of the <c>kind</c> tag.</summary>
    public const string Unreachable = "unreachable";
    public const string Lost = "lost";
    public const string Refused = "refused";

    // Relay time is dominated by the upstream round trips of MAIL, RCPT and DATA: tens of
    // milliseconds to SendGrid, seconds for large messages, up to the DATA timeout when it stalls.
    private static readonly IReadOnlyList<double> DurationBuckets = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private readonly TimeProvider _time;
    private readonly Counter<long> _received;
    private readonly Counter<long> _relayed;
    private readonly Counter<long> _repaired;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _warnings;
    private readonly Counter<long> _upstreamErrors;
    private readonly Histogram<double> _relayDuration;
    private Func<int>? _activeSessions;
    private UpstreamObservation? _lastUpstream;

    public ProxyMetrics(IMeterFactory meterFactory, TimeProvider time)
    {
        _time = time;
        Meter = meterFactory.Create(new MeterOptions(MeterName));
        _received = Meter.CreateCounter<long>("smtp_amp_proxy.messages.received", "{message}",
            "Messages whose DATA the proxy received");
        _relayed = Meter.CreateCounter<long>("smtp_amp_proxy.messages.relayed", "{message}",
            "Messages the upstream accepted, repaired or not");
        _repaired = Meter.CreateCounter<long>("smtp_amp_proxy.messages.repaired", "{repair}",
            "Repairs applied to relayed messages, by AMP rule");
        _rejected = Meter.CreateCounter<long>("smtp_amp_proxy.messages.rejected", "{message}",
            "Messages the proxy refused itself, by reason code");
        _warnings = Meter.CreateCounter<long>("smtp_amp_proxy.messages.warnings", "{finding}",
            "Findings logged without changing the message (AMP document checks set to Warn, amp-in-signed), by code");
        _upstreamErrors = Meter.CreateCounter<long>("smtp_amp_proxy.upstream.errors", "{error}",
            "Upstream failures: unreachable at MAIL, connection lost, or final reply refused");
        _relayDuration = Meter.CreateHistogram<double>("smtp_amp_proxy.relay.duration", "s",
            "Time from MAIL FROM to the upstream's final reply to DATA",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        Meter.CreateObservableGauge("smtp_amp_proxy.sessions.active", () => _activeSessions?.Invoke() ?? 0, "{session}",
            "SMTP sessions open now");
    }

    public Meter Meter { get; }

    /// <summary>The last exchange with the upstream that says whether it is reachable; null before any.</summary>
    public UpstreamObservation? LastUpstream => Volatile.Read(ref _lastUpstream);

    /// <summary>The session count lives in the SMTP server, which is built after this object.</summary>
    public void ObserveActiveSessions(Func<int> activeSessions) => _activeSessions = activeSessions;

    public void MessageReceived() => _received.Add(1);

    public void AmpWarning(string code) =>
        _warnings.Add(1, new KeyValuePair<string, object?>("code", code));

    public void MessageRejected(string code) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("code", code));

    /// <summary>Unreachable at MAIL, or lost mid-transaction: the upstream is not usable right now.</summary>
    public void UpstreamFailed(string kind, string reason)
    {
        _upstreamErrors.Add(1, new KeyValuePair<string, object?>("kind", kind));
        RecordUpstream(false, $"{kind}: {reason}");
    }

    /// <summary>The upstream's final reply to DATA. A refusal still proves the upstream reachable.</summary>
    /// <param name="lost">The connection broke during DATA; <see cref="UpstreamFailed"/> counted it.</param>
    public void RelayCompleted(bool accepted, bool lost, IReadOnlyList<AmpAction> repairs, TimeSpan duration)
    {
        _relayDuration.Record(duration.TotalSeconds);
        if (lost)
        {
            return;
        }

        RecordUpstream(true, null);
        if (!accepted)
        {
            _upstreamErrors.Add(1, new KeyValuePair<string, object?>("kind", Refused));
            return;
        }

        _relayed.Add(1);
        foreach (var repair in repairs)
        {
            _repaired.Add(1, new KeyValuePair<string, object?>("action", repair.Code));
        }
    }

    /// <summary>A readiness probe's own finding counts as an observation like any relay's.</summary>
    public void RecordUpstream(bool reachable, string? reason) =>
        Volatile.Write(ref _lastUpstream, new UpstreamObservation(reachable, _time.GetTimestamp(), reason));
}

/// <param name="Timestamp">From <see cref="TimeProvider.GetTimestamp"/>.</param>
internal sealed record UpstreamObservation(bool Reachable, long Timestamp, string? Reason);
