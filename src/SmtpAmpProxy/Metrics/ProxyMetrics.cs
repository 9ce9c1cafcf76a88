using System.Diagnostics.Metrics;
using SmtpAmpProxy.Normalizer.Results;

namespace SmtpAmpProxy.Metrics;

/// <summary>
/// The relay's instruments on the <c>SmtpAmpProxy</c> meter, and what the readiness check needs to
/// know about the upstream: the outcome of the last real exchange with it. Any MeterListener
/// (the OpenTelemetry SDK behind <c>/metrics</c> and OTLP, dotnet-counters) can read the meter.
/// </summary>
internal sealed class ProxyMetrics
{
    public const string MeterName = "SmtpAmpProxy";

    /// <summary>
    /// Upstream fault kinds, the values of the <c>kind</c> tag: no session (<c>unreachable</c>), a session lost
    /// with the sender told 451 (<c>lost</c>), a refused login (<c>auth</c>), SMTP's framing broken
    /// (<c>protocol</c>). The upstream refusing a recipient or message is not a fault: <c>upstream.replies</c> counts it.
    /// </summary>
    public const string Unreachable = "unreachable";
    public const string Lost = "lost";
    public const string Auth = "auth";
    public const string Protocol = "protocol";

    // Relay time is dominated by the upstream round trips of MAIL, RCPT and DATA: tens of
    // milliseconds to SendGrid, seconds for large messages, up to the DATA timeout when it stalls.
    private static readonly IReadOnlyList<double> DurationBuckets = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    // A free pool connection is handed out in microseconds; a new one costs connect, TLS and AUTH (tens to
    // hundreds of milliseconds); the wait is bounded by Upstream:PoolWait (2 s by default).
    private static readonly IReadOnlyList<double> PoolWaitBuckets = [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5];

    private readonly TimeProvider _time;
    private readonly Counter<long> _received;
    private readonly Counter<long> _relayed;
    private readonly Counter<long> _repaired;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _warnings;
    private readonly Counter<long> _upstreamErrors;
    private readonly Histogram<double> _relayDuration;
    private readonly Counter<long> _upstreamReplies;
    private readonly Counter<long> _deferred;
    private readonly Counter<long> _replays;
    private readonly Counter<long> _releases;
    private readonly Histogram<double> _poolWait;
    private Func<(int Idle, int Rented, int Waiting)>? _pool;
    private Func<int>? _activeSessions;
    private Func<long>? _spillFailures;
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
            "Upstream faults a sender was told 451 for, by kind: unreachable, lost, auth, protocol");
        _upstreamReplies = Meter.CreateCounter<long>("smtp_amp_proxy.upstream.replies", "{reply}",
            "Upstream replies by stage (mail, rcpt, data, content) and class (2xx, 3xx, 4xx, 5xx)");
        _deferred = Meter.CreateCounter<long>("smtp_amp_proxy.relay.deferred", "{transaction}",
            "Transactions told 451 for the pool's sake, by reason: client-share, pool-busy");
        _replays = Meter.CreateCounter<long>("smtp_amp_proxy.upstream.replays", "{replay}",
            "Envelopes replayed on a new upstream connection after the previous one was given back or lost");
        _releases = Meter.CreateCounter<long>("smtp_amp_proxy.upstream.releases", "{release}",
            "Upstream connections given back while their sender was idle, by where: idle (between commands), data (inside DATA)");
        _poolWait = Meter.CreateHistogram<double>("smtp_amp_proxy.upstream.pool.wait", "s",
            "Time a transaction waited for an upstream connection",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = PoolWaitBuckets });
        Meter.CreateObservableGauge("smtp_amp_proxy.upstream.pool.connections", ObservePoolConnections, "{connection}",
            "Upstream connections open now, by state: idle, rented");
        Meter.CreateObservableGauge("smtp_amp_proxy.upstream.pool.waiting", () => _pool?.Invoke().Waiting ?? 0, "{transaction}",
            "Transactions waiting for an upstream connection now");
        _relayDuration = Meter.CreateHistogram<double>("smtp_amp_proxy.relay.duration", "s",
            "Time from MAIL FROM to the upstream's final reply to DATA",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        Meter.CreateObservableCounter("smtp_amp_proxy.spill.write_failures", () => _spillFailures?.Invoke() ?? 0, "{failure}",
            "Messages refused with 452 4.3.1 because the spill folder could not be written (full disk, quota, I/O error)");
        Meter.CreateObservableGauge("smtp_amp_proxy.sessions.active", () => _activeSessions?.Invoke() ?? 0, "{session}",
            "SMTP sessions open now");

        // Every counter exists from the start at zero, so rate() and alerts have a series before the first event.
        foreach (var counter in new[] { _received, _relayed, _repaired, _rejected, _warnings, _upstreamErrors, _upstreamReplies, _deferred, _replays, _releases })
        {
            counter.Add(0);
        }
    }

    public Meter Meter { get; }

    /// <summary>The last exchange with the upstream that says whether it is reachable; null before any.</summary>
    public UpstreamObservation? LastUpstream => Volatile.Read(ref _lastUpstream);

    /// <summary>The session count lives in the SMTP server, which is built after this object.</summary>
    public void ObserveActiveSessions(Func<int> activeSessions) => _activeSessions = activeSessions;

    /// <summary>The spill folder counts its own write failures; the meter reads them at collection.</summary>
    public void ObserveSpillFailures(Func<long> failures) => _spillFailures = failures;

    public void MessageReceived() => _received.Add(1);

    public void AmpWarning(string code) =>
        _warnings.Add(1, new KeyValuePair<string, object?>("code", code));

    public void MessageRejected(string code) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("code", code));

    /// <summary>The pool's counts live in the upstream, which is built after this object.</summary>
    public void ObservePool(Func<(int Idle, int Rented, int Waiting)> pool) => _pool = pool;

    /// <summary>A sender was told 451 because of the upstream. Readiness is fed separately, by sessions opening or not.</summary>
    public void UpstreamFailed(string kind) =>
        _upstreamErrors.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void UpstreamReply(string stage, int code) =>
        _upstreamReplies.Add(1, new KeyValuePair<string, object?>("stage", stage), new KeyValuePair<string, object?>("class", ReplyClass(code)));

    public void Deferred(string reason) => _deferred.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Replayed() => _replays.Add(1);

    public void LeaseReleased(string where) => _releases.Add(1, new KeyValuePair<string, object?>("where", where));

    public void PoolWaited(TimeSpan wait) => _poolWait.Record(wait.TotalSeconds);

    /// <summary>The upstream's final reply to DATA; a refusal is counted by <see cref="UpstreamReply"/>, not as an error.</summary>
    /// <param name="lost">The proxy answered for a failed upstream; <see cref="UpstreamFailed"/> counted it.</param>
    public void RelayCompleted(bool accepted, bool lost, IReadOnlyList<AmpAction> repairs, TimeSpan duration)
    {
        _relayDuration.Record(duration.TotalSeconds);
        if (lost || !accepted)
        {
            return;
        }

        _relayed.Add(1);
        foreach (var repair in repairs)
        {
            _repaired.Add(1, new KeyValuePair<string, object?>("action", repair.Code));
        }
    }

    /// <summary>The <c>class</c> tag of a reply code, for the metric and the trace alike; constant strings, so tagging allocates no text.</summary>
    internal static string ReplyClass(int code) => code switch
    {
        >= 200 and < 300 => "2xx",
        >= 300 and < 400 => "3xx",
        >= 400 and < 500 => "4xx",
        _ => "5xx",
    };

    private IEnumerable<Measurement<int>> ObservePoolConnections()
    {
        if (_pool is null)
        {
            return [];
        }

        var (idle, rented, _) = _pool();
        return [new(idle, new KeyValuePair<string, object?>("state", "idle")), new(rented, new KeyValuePair<string, object?>("state", "rented"))];
    }

    /// <summary>Whether sessions open and log in, from the upstream's health component (rents and readiness probes).</summary>
    public void RecordUpstream(bool reachable, string? reason) =>
        Volatile.Write(ref _lastUpstream, new UpstreamObservation(reachable, _time.GetTimestamp(), reason));
}

/// <param name="Timestamp">From <see cref="TimeProvider.GetTimestamp"/>.</param>
internal sealed record UpstreamObservation(bool Reachable, long Timestamp, string? Reason);
