using System.Net;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Relay;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Upstream;

/// <summary>How the relay holds upstream connections; from <c>Proxy:Upstream</c>.</summary>
/// <param name="PoolWait">How long a sender waits for a free pool connection before 451 4.4.5.</param>
/// <param name="MaxIdleHold">
/// How long a held connection waits on an idle sender (between commands, or inside a DATA the sender is
/// still transmitting) before it is given back and the envelope replayed later.
/// </param>
internal sealed record UpstreamLeaseSettings(TimeSpan PoolWait, TimeSpan MaxIdleHold, int MaxConnectionsPerClient);

/// <summary>
/// The SMTP relay (SendGrid): a pool of sessions, lent to transactions (<see cref="UpstreamTransaction"/>)
/// only while their sender moves them forward, at most a share of them per client address.
/// </summary>
internal sealed class SmtpUpstream : IUpstream, IAsyncDisposable
{
    private readonly ClientShares _shares;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public SmtpUpstream(SmtpConnectionPool pool, UpstreamLeaseSettings settings, ProxyMetrics metrics, ILogger logger, TimeProvider time, UpstreamHealth health)
    {
        Pool = pool;
        Settings = settings;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        Health = health;
        _shares = new ClientShares(settings.MaxConnectionsPerClient, pool.MaxConnections);
        metrics.ObservePool(() => (pool.IdleCount, pool.RentedCount, pool.WaitingCount));
    }

    /// <summary>For tests: after an upstream fault the pool must come back to its baseline.</summary>
    internal SmtpConnectionPool Pool { get; }

    internal UpstreamLeaseSettings Settings { get; }

    public UpstreamHealth Health { get; }

    /// <summary>
    /// What the upstream's last EHLO said (the pool's newest session: a rent, a delivery or readiness' probe).
    /// Before the upstream was ever reached SMTPUTF8 is not offered: a sender told it is there would learn
    /// otherwise only at MAIL, with a permanent 553 for mail it might have sent as ASCII; one not told keeps
    /// to ASCII or holds its mail. The balancer's readiness probe opens a session before any sender comes.
    /// </summary>
    public bool OffersSmtpUtf8 => Pool.UpstreamExtensions?.Contains("SMTPUTF8") == true;

    public ValueTask DisposeAsync() => Pool.DisposeAsync();

    public IUpstreamTransaction Begin(SmtpSessionInfo session) =>
        new UpstreamTransaction(this, session, _metrics, _logger, _time);

    /// <summary>
    /// A connection for the client's transaction, or the reply that says why not: the login circuit is open
    /// (451 4.7.0), the client holds its share (451 4.7.1), none came free within the wait (451 4.4.5), or the
    /// upstream cannot be reached (451 4.4.1).
    /// </summary>
    internal async Task<(UpstreamLease? Lease, SmtpReply Refusal, UpstreamFault? Fault)> RentAsync(IPAddress client, CancellationToken ct)
    {
        if (!Health.TryEnter(out var circuit))
        {
            _metrics.UpstreamFailed(ProxyMetrics.Auth);
            return (null, RelayReplies.UpstreamAuth, circuit);
        }

        if (!_shares.TryAcquire(client))
        {
            Health.LeaveUnused();
            _metrics.Deferred("client-share");
            return (null, RelayReplies.ClientShare, null);
        }

        var started = _time.GetTimestamp();
        try
        {
            var lease = await Pool.TryRentAsync(Settings.PoolWait, ct).ConfigureAwait(false);
            _metrics.PoolWaited(_time.GetElapsedTime(started));
            if (lease is null)
            {
                _shares.Release(client);
                Health.LeaveUnused();
                _metrics.Deferred("pool-busy");
                return (null, RelayReplies.PoolBusy, null);
            }

            Health.Succeeded();
            return (new UpstreamLease(lease, _shares, client), default, null);
        }
        catch (SmtpConnectionException e)
        {
            _shares.Release(client);
            var fault = Health.Failed(e);
            return (null, fault.Kind == ProxyMetrics.Auth ? RelayReplies.UpstreamAuth : RelayReplies.Unreachable, fault);
        }
        catch
        {
            _shares.Release(client);
            Health.LeaveUnused();
            throw;
        }
    }
}

/// <summary>A pool lease that also holds one of its client's shares, given back with it.</summary>
internal sealed class UpstreamLease(SmtpConnectionLease lease, ClientShares shares, IPAddress client)
{
    public SmtpClientConnection Connection => lease.Connection;

    public async ValueTask ReturnAsync()
    {
        shares.Release(client);
        await lease.ReturnAsync().ConfigureAwait(false);
    }

    public async ValueTask DiscardAsync(string reason)
    {
        shares.Release(client);
        await lease.DiscardAsync(reason).ConfigureAwait(false);
    }
}
