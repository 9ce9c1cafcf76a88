using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>
/// Upstream sessions kept open between messages (TLS and AUTH cost several round trips). The pool opens,
/// checks, rents and takes back connections, nothing more: at most <see cref="SmtpPoolOptions.MaxConnections"/>
/// exist, each with one renter at a time; an idle one is checked before it is handed out and replaced in the
/// rent path when it is dead, so a restarted upstream costs a reconnect, not a failed message. Where a
/// transaction stands is the renter's business, which says so when it gives a lease back.
/// </summary>
public sealed class SmtpConnectionPool : IAsyncDisposable
{
    private readonly SmtpClientOptions _options;
    private readonly SmtpPoolOptions _pool;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ClientTls _tls;
    private readonly SemaphoreSlim _slots;
    private readonly Lock _lock = new();

    // Used as a stack: the most recently returned connection goes out first, so under light load the
    // rest stay idle long enough to expire and the pool shrinks to what the traffic needs.
    private readonly List<SmtpClientConnection> _idle = [];
    private readonly HashSet<SmtpClientConnection> _rented = [];
    private readonly ITimer _sweeper;
    private int _total;
    private int _waiting;
    private IReadOnlySet<string>? _upstreamExtensions;
    private bool _disposed;

    public SmtpConnectionPool(SmtpClientOptions options, SmtpPoolOptions pool, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        SmtpClientConnection.Validate(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(pool.MaxConnections, 1, nameof(pool));
        ArgumentOutOfRangeException.ThrowIfLessThan(pool.MaxMessagesPerConnection, 1, nameof(pool));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pool.IdleTimeout, TimeSpan.Zero, nameof(pool));
        _options = options;
        _pool = pool;
        _logger = loggerFactory.CreateLogger("SmtpAmpProxy.Smtp.Client");
        _time = time ?? TimeProvider.System;
        _tls = ClientTls.Create(options, _logger);
        _slots = new SemaphoreSlim(pool.MaxConnections, pool.MaxConnections);
        TimeSpan period = TimeSpan.FromTicks(Math.Max(pool.IdleTimeout.Ticks / 2, TimeSpan.FromMilliseconds(100).Ticks));
        _sweeper = _time.CreateTimer(static state => ((SmtpConnectionPool)state!).Sweep(), this, period, period);
    }

    public int IdleCount
    {
        get
        {
            lock (_lock)
            {
                return _idle.Count;
            }
        }
    }

    /// <summary>Open connections, idle and rented.</summary>
    public int TotalCount => Volatile.Read(ref _total);

    public int RentedCount
    {
        get
        {
            lock (_lock)
            {
                return _rented.Count;
            }
        }
    }

    /// <summary>Renters waiting for a free slot now.</summary>
    public int WaitingCount => Volatile.Read(ref _waiting);

    public int MaxConnections => _pool.MaxConnections;

    /// <summary>
    /// The EHLO keywords of the session this pool opened last (for a renter or <see cref="CheckUpstreamAsync"/>);
    /// null until one opened. What the upstream offers, for a server that may offer only what it can pass on.
    /// </summary>
    public IReadOnlySet<string>? UpstreamExtensions => Volatile.Read(ref _upstreamExtensions);

    /// <summary>An idle healthy connection or a new one; waits while all <see cref="SmtpPoolOptions.MaxConnections"/> are rented.</summary>
    /// <exception cref="SmtpConnectionException">A new connection could not be opened.</exception>
    public async Task<SmtpConnectionLease> RentAsync(CancellationToken ct) =>
        (await TryRentAsync(Timeout.InfiniteTimeSpan, ct).ConfigureAwait(false))!;

    /// <summary>
    /// As <see cref="RentAsync"/>, but null when no slot comes free within <paramref name="slotWait"/>. Opening a
    /// new connection is bounded by the connect and command timeouts, not by the wait.
    /// </summary>
    public async Task<SmtpConnectionLease?> TryRentAsync(TimeSpan slotWait, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Interlocked.Increment(ref _waiting);
        try
        {
            if (!await _slots.WaitAsync(slotWait, ct).ConfigureAwait(false))
            {
                return null;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        try
        {
            while (TakeIdle() is { } idle)
            {
                if (await IsReusableAsync(idle, ct).ConfigureAwait(false))
                {
                    return MarkRented(idle);
                }
            }

            ObjectDisposedException.ThrowIf(_disposed, this);
            Interlocked.Increment(ref _total);
            SmtpClientConnection created;
            try
            {
                created = await SmtpClientConnection.ConnectAsync(_options, _tls, _logger, ct).ConfigureAwait(false);
            }
            catch
            {
                Interlocked.Decrement(ref _total);
                throw;
            }

            Volatile.Write(ref _upstreamExtensions, created.Extensions);
            ClientLog.PoolOpened(_logger, created.Id, TotalCount);
            return MarkRented(created);
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    /// <summary>
    /// Opens a connection outside the pool's count (greeting, TLS, AUTH) and closes it: proves the upstream
    /// takes sessions whatever the senders hold. Throws <see cref="SmtpConnectionException"/> as a rent would.
    /// </summary>
    public async Task CheckUpstreamAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(_options, _tls, _logger, ct).ConfigureAwait(false);
        Volatile.Write(ref _upstreamExtensions, connection.Extensions);
        await connection.QuitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes a lease's connection back: kept idle when the renter says the session is between transactions and
    /// it is sound, else closed; closed after <see cref="SmtpPoolOptions.MaxMessagesPerConnection"/>. Never
    /// throws for upstream failures.
    /// </summary>
    internal async ValueTask ReturnAsync(SmtpClientConnection connection, bool keep, string? reason)
    {
        lock (_lock)
        {
            if (!_rented.Remove(connection))
            {
                throw new InvalidOperationException("This connection is not rented from this pool (returned twice?).");
            }
        }

        bool pooled = false;
        reason ??= "broken";
        try
        {
            if (!keep)
            {
                // Mid-transaction or inside DATA, the upstream would take RSET or QUIT as message content:
                // only closing the connection ends that transaction without a message.
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            else if (!connection.IsBroken && connection.MessagesSent >= _pool.MaxMessagesPerConnection)
            {
                ClientLog.PoolRetired(_logger, connection.Id, connection.MessagesSent);
                keep = false;
                reason = "retired";
            }
            else
            {
                keep = !connection.IsBroken;
            }

            if (keep)
            {
                lock (_lock)
                {
                    if (!_disposed)
                    {
                        connection.IdleSince = _time.GetTimestamp();
                        _idle.Add(connection);
                        pooled = true;
                    }
                }

                if (pooled)
                {
                    return;
                }

                reason = "pool disposed";
            }
        }
        finally
        {
            if (!pooled)
            {
                Interlocked.Decrement(ref _total);
            }

            _slots.Release();
        }

        if (reason != "retired")
        {
            ClientLog.PoolDiscarded(_logger, connection.Id, reason);
        }

        await CloseAsync(connection).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        SmtpClientConnection[] idle;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            idle = [.. _idle];
            _idle.Clear();
        }

        await _sweeper.DisposeAsync().ConfigureAwait(false);
        Interlocked.Add(ref _total, -idle.Length);
        await Task.WhenAll(idle.Select(CloseAsync)).ConfigureAwait(false);
    }

    private SmtpClientConnection? TakeIdle()
    {
        lock (_lock)
        {
            if (_idle.Count == 0)
            {
                return null;
            }

            SmtpClientConnection connection = _idle[^1];
            _idle.RemoveAt(_idle.Count - 1);
            return connection;
        }
    }

    private SmtpConnectionLease MarkRented(SmtpClientConnection connection)
    {
        lock (_lock)
        {
            if (!_rented.Add(connection))
            {
                throw new InvalidOperationException("A pooled connection was about to be handed out twice.");
            }
        }

        return new SmtpConnectionLease(this, connection);
    }

    /// <summary>
    /// Checks an idle connection before a transaction starts on it. A restart or idle timeout at the
    /// upstream closes the socket; a non-blocking look catches that, and a NOOP catches the rest after a
    /// longer idle time. A dead one is replaced here, in the rent path, never inside a rented connection.
    /// </summary>
    private async Task<bool> IsReusableAsync(SmtpClientConnection connection, CancellationToken ct)
    {
        TimeSpan idleFor = _time.GetElapsedTime(connection.IdleSince);
        string? reason = null;
        if (idleFor >= _pool.IdleTimeout)
        {
            ClientLog.PoolIdleExpired(_logger, connection.Id);
            reason = "expired";
        }
        else if (!connection.LooksAliveWhileIdle(out string why))
        {
            ClientLog.PoolIdleDead(_logger, connection.Id, why);
            reason = why;
        }
        else if (idleFor >= _pool.ProbeAfterIdle)
        {
            try
            {
                SmtpReply reply = await connection.NoopAsync(ct).ConfigureAwait(false);
                if (reply.Code != 250)
                {
                    reason = "NOOP answered " + reply.Code;
                }
            }
            catch (SmtpConnectionException e)
            {
                reason = "NOOP failed: " + e.Message;
            }
            catch (OperationCanceledException)
            {
                await DiscardAsync(connection, "canceled").ConfigureAwait(false);
                throw;
            }

            if (reason is not null)
            {
                ClientLog.PoolIdleDead(_logger, connection.Id, reason);
            }
        }

        if (reason is null)
        {
            return true;
        }

        await DiscardAsync(connection, reason).ConfigureAwait(false);
        return false;
    }

    private async Task DiscardAsync(SmtpClientConnection connection, string reason)
    {
        Interlocked.Decrement(ref _total);
        if (reason == "expired")
        {
            await CloseAsync(connection).ConfigureAwait(false);
        }
        else
        {
            ClientLog.PoolDiscarded(_logger, connection.Id, reason);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>QUIT when the session is healthy, else just close.</summary>
    private static async Task CloseAsync(SmtpClientConnection connection)
    {
        if (connection.IsBroken)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            await connection.QuitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Closes idle connections past the idle timeout even when nobody rents, so they do not linger.</summary>
    private void Sweep()
    {
        List<SmtpClientConnection>? expired = null;
        lock (_lock)
        {
            for (int i = _idle.Count - 1; i >= 0; i--)
            {
                if (_time.GetElapsedTime(_idle[i].IdleSince) >= _pool.IdleTimeout)
                {
                    (expired ??= []).Add(_idle[i]);
                    _idle.RemoveAt(i);
                }
            }
        }

        if (expired is null)
        {
            return;
        }

        Interlocked.Add(ref _total, -expired.Count);
        foreach (SmtpClientConnection connection in expired)
        {
            ClientLog.PoolIdleExpired(_logger, connection.Id);
            _ = CloseAsync(connection);
        }
    }
}
