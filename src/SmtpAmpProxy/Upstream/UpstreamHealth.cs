using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Logging;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Smtp.Client;

namespace SmtpAmpProxy.Upstream;

/// <summary>
/// What the proxy knows about the upstream as a whole: whether sessions open and log in. Only the opening
/// of a session feeds it (by a rent or by readiness' own probe), never what one sender's transaction
/// meets, so a sender cannot make the instance look unhealthy. Failed logins open a circuit: while it is
/// open no connection is tried at all, and each failure doubles the wait, so a wrong API key costs the
/// upstream a handful of login attempts, not one per message (SendGrid may block an address that keeps
/// failing AUTH).
/// </summary>
internal sealed class UpstreamHealth
{
    private readonly Func<CancellationToken, Task> _openAndCheck;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _firstBackoff;
    private readonly TimeSpan _maxBackoff;
    private readonly Lock _lock = new();
    private readonly string[] _secrets;
    private int _authFailures;
    private long _retryAt;
    private bool _trialInFlight;
    private long _lastAuthLog;
    private bool _authLogged;

    public UpstreamHealth(Func<CancellationToken, Task> openAndCheck, ProxyMetrics metrics, ILogger logger, TimeProvider time,
        TimeSpan firstBackoff, IEnumerable<string?> secrets)
    {
        _openAndCheck = openAndCheck;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _firstBackoff = firstBackoff;
        _maxBackoff = TimeSpan.FromTicks(Math.Max(firstBackoff.Ticks, TimeSpan.FromMinutes(15).Ticks));
        _secrets = [.. SecretForms(secrets)];
    }

    /// <summary>An Error line about failed logins at most this often; the metric counts every one.</summary>
    public TimeSpan AuthLogInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Logins have failed and the wait before the next attempt has not passed.</summary>
    public bool IsAuthCircuitOpen
    {
        get
        {
            lock (_lock)
            {
                return _authFailures > 0 && (_trialInFlight || _time.GetTimestamp() < _retryAt);
            }
        }
    }

    /// <summary>
    /// May a new session be tried now? False while the login circuit is open; once its wait is over, one
    /// attempt goes through (the trial) and the rest keep failing fast until it has an answer.
    /// </summary>
    public bool TryEnter(out UpstreamFault? refusal)
    {
        lock (_lock)
        {
            if (_authFailures == 0)
            {
                refusal = null;
                return true;
            }

            if (!_trialInFlight && _time.GetTimestamp() >= _retryAt)
            {
                _trialInFlight = true;
                refusal = null;
                return true;
            }
        }

        refusal = new UpstreamFault(ProxyMetrics.Auth, nameof(SmtpFailureStage.Auth), false, "upstream login failing; waiting before the next attempt");
        return false;
    }

    /// <summary>
    /// A pass from <see cref="TryEnter"/> that tried no session (the client's share was used up, say) or whose
    /// session failed for a reason other than the login: a trial in flight is over, the circuit's wait unchanged.
    /// </summary>
    public void LeaveUnused()
    {
        lock (_lock)
        {
            _trialInFlight = false;
        }
    }

    /// <summary>A session opened (or an idle one was handed out): the upstream takes logins.</summary>
    public void Succeeded()
    {
        lock (_lock)
        {
            _authFailures = 0;
            _trialInFlight = false;
            _authLogged = false;
        }

        _metrics.RecordUpstream(true, null);
    }

    /// <summary>A session could not be opened; returns the fault as the sender's reply and the metrics name it.</summary>
    public UpstreamFault Failed(SmtpConnectionException e)
    {
        var kind = KindOf(e);
        var fault = new UpstreamFault(kind, e.Stage.ToString(), e.IsTimeout, Sanitize(e));
        if (kind == ProxyMetrics.Auth)
        {
            bool log;
            lock (_lock)
            {
                _authFailures++;
                _trialInFlight = false;
                var wait = TimeSpan.FromTicks(Math.Min(_maxBackoff.Ticks, _firstBackoff.Ticks << Math.Min(_authFailures - 1, 20)));
                var now = _time.GetTimestamp();
                _retryAt = now + (long)(wait.TotalSeconds * _time.TimestampFrequency);
                log = !_authLogged || _time.GetElapsedTime(_lastAuthLog) >= AuthLogInterval;
                if (log)
                {
                    _authLogged = true;
                    _lastAuthLog = now;
                }
            }

            if (log)
            {
                ProxyLog.UpstreamAuthFailed(_logger, fault.Reason);
            }
        }
        else
        {
            LeaveUnused();
        }

        _metrics.UpstreamFailed(kind);
        _metrics.RecordUpstream(false, $"{kind}: {fault.Reason}");
        return fault;
    }

    /// <summary>
    /// Opens a session outside the pool, so a pool busy with senders never reads as an upstream fault; respects
    /// the login circuit (an open circuit is the answer, without another login).
    /// </summary>
    public async Task<(bool Reachable, string? Reason)> ProbeAsync(TimeSpan timeout, CancellationToken ct)
    {
        if (!TryEnter(out var refusal))
        {
            return (false, $"{refusal!.Kind}: {refusal.Reason}");
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            await _openAndCheck(limit.Token).ConfigureAwait(false);
            Succeeded();
            return (true, null);
        }
        catch (SmtpConnectionException e)
        {
            var fault = Failed(e);
            return (false, $"{fault.Kind}: {fault.Reason}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            LeaveUnused();
            var reason = $"{ProxyMetrics.Unreachable}: no session within {timeout.TotalSeconds:0.#} s";
            _metrics.RecordUpstream(false, reason);
            return (false, reason);
        }
    }

    /// <summary>A refused login (a reply, or no mechanism we speak) is <c>auth</c>; I/O failing during AUTH is the network's.</summary>
    public static string KindOf(SmtpConnectionException e) =>
        e.IsProtocolViolation ? ProxyMetrics.Protocol
        : e.Stage == SmtpFailureStage.Auth && e.InnerException is null && !e.IsTimeout ? ProxyMetrics.Auth
        : ProxyMetrics.Unreachable;

    /// <summary>
    /// Text that may reach /readyz or a log line. An upstream may echo what it was sent (a 535 quoting the
    /// AUTH PLAIN blob), so the password in every form the client sent it is cut out, and a refused login
    /// keeps only its codes.
    /// </summary>
    public string Sanitize(SmtpConnectionException e)
    {
        if (e.Stage == SmtpFailureStage.Auth && e.Reply is { } reply)
        {
            return $"upstream refused the login: {reply.Code} {reply.EnhancedCode}".TrimEnd();
        }

        return Sanitize(e.Message);
    }

    public string Sanitize(string text)
    {
        foreach (var secret in _secrets)
        {
            text = text.Replace(secret, "<redacted>", StringComparison.Ordinal);
        }

        return text;
    }

    private static IEnumerable<string> SecretForms(IEnumerable<string?> secrets)
    {
        var values = secrets.Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).ToList();
        foreach (var value in values)
        {
            yield return value;
            yield return Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value));
        }

        // AUTH PLAIN's initial response: NUL user NUL password (RFC 4616), for each pair of values.
        foreach (var user in values)
        {
            foreach (var password in values)
            {
                yield return Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"\0{user}\0{password}"));
            }
        }
    }
}
