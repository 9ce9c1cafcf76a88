using System.Net;
using System.Net.Sockets;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// AUTH failures per client address, shared by every session of one server, so a password guesser cannot
/// reset its count by reconnecting (the job Postfix gives anvil). An address's count is forgotten after
/// <see cref="SmtpServerOptions.AuthFailureWindow"/> without a failure. IPv6 clients count per /64: one host
/// usually holds the whole block and could otherwise take a fresh address for every guess.
/// </summary>
internal sealed class AuthFailureThrottle(SmtpServerOptions options, TimeProvider time)
{
    /// <summary>Bounds the table when guesses come from many addresses; the longest-quiet entries go first.</summary>
    internal const int MaxTracked = 10_000;

    /// <summary>The delay stops growing at 32 times the first one (32 s by default): enough to make guessing slow.</summary>
    private const int MaxDoublings = 5;

    private readonly Dictionary<IPAddress, Entry> _entries = [];
    private readonly Lock _gate = new();

    internal int TrackedCount
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The address reached <see cref="SmtpServerOptions.MaxAuthFailures"/> within the window.</summary>
    public bool IsLockedOut(IPAddress client)
    {
        if (options.MaxAuthFailures <= 0)
        {
            return false;
        }

        lock (_gate)
        {
            return _entries.TryGetValue(Key(client), out var entry) && !IsExpired(entry, time.GetUtcNow())
                && entry.Failures >= options.MaxAuthFailures;
        }
    }

    /// <summary>Counts one failure; says how long to wait before the 535, or that the session must end with 421.</summary>
    public (TimeSpan Delay, bool LockedOut) RecordFailure(IPAddress client)
    {
        var now = time.GetUtcNow();
        var key = Key(client);
        int failures;
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var entry) || IsExpired(entry, now))
            {
                if (_entries.Count >= MaxTracked)
                {
                    MakeRoom(now);
                }

                entry = default;
            }

            failures = entry.Failures + 1;
            _entries[key] = new Entry(failures, now);
        }

        if (options.MaxAuthFailures > 0 && failures >= options.MaxAuthFailures)
        {
            return (TimeSpan.Zero, true);
        }

        var over = failures - options.AuthFailuresBeforeDelay;
        return over <= 0
            ? (TimeSpan.Zero, false)
            : (options.AuthFailureDelay * (1 << Math.Min(over - 1, MaxDoublings)), false);
    }

    private bool IsExpired(Entry entry, DateTimeOffset now) => now - entry.LastFailure >= options.AuthFailureWindow;

    private void MakeRoom(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries)
        {
            if (IsExpired(entry, now))
            {
                _entries.Remove(key);
            }
        }

        if (_entries.Count >= MaxTracked)
        {
            var oldest = _entries.MinBy(pair => pair.Value.LastFailure).Key;
            _entries.Remove(oldest);
        }
    }

    private static IPAddress Key(IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6)
        {
            return client.MapToIPv4();
        }

        if (client.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return client;
        }

        Span<byte> bytes = stackalloc byte[16];
        client.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    private readonly record struct Entry(int Failures, DateTimeOffset LastFailure);
}
