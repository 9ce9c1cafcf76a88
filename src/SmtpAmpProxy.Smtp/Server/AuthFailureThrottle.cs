using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// AUTH failures, shared by every session of one server, so a password guesser cannot reset its count by
/// reconnecting (the job Postfix gives anvil). Two counts: per client address and user name, which locks out
/// one account from one place at <see cref="SmtpServerOptions.MaxAuthFailures"/>; and per address alone, with
/// the higher ceiling <see cref="SmtpServerOptions.MaxAuthFailuresPerAddress"/>, which stops a guesser rotating
/// user names. Keying the first count by address alone let five made-up logins lock every user behind a NAT or a
/// balancer out, a correct login included. A count is forgotten after <see cref="SmtpServerOptions.AuthFailureWindow"/>
/// without a failure. IPv6 clients count per /64: one host usually holds the whole block.
/// </summary>
internal sealed class AuthFailureThrottle(SmtpServerOptions options, TimeProvider time)
{
    /// <summary>Bounds each table when guesses come from many addresses; the longest-quiet entries go first.</summary>
    internal const int MaxTracked = 10_000;

    /// <summary>The delay stops growing at 32 times the first one (32 s by default): enough to make guessing slow.</summary>
    private const int MaxDoublings = 5;

    // User names are kept as a keyed hash: a table entry costs the same whatever the length of the name sent,
    // and the table never holds what clients typed. The key is per process, so the hashes mean nothing elsewhere.
    private readonly byte[] _userKey = RandomNumberGenerator.GetBytes(32);
    private readonly Dictionary<IPAddress, Entry> _addresses = [];
    private readonly Dictionary<(IPAddress Address, UInt128 User), Entry> _users = [];
    private readonly Lock _gate = new();

    internal int TrackedCount
    {
        get
        {
            lock (_gate)
            {
                return _addresses.Count + _users.Count;
            }
        }
    }

    /// <summary>The address reached <see cref="SmtpServerOptions.MaxAuthFailuresPerAddress"/> within the window.</summary>
    public bool IsLockedOut(IPAddress client) => LockedOut(Key(client), user: null);

    /// <summary>
    /// This user name from this address reached <see cref="SmtpServerOptions.MaxAuthFailures"/> within the
    /// window, or the address reached its own ceiling.
    /// </summary>
    public bool IsLockedOut(IPAddress client, string user) => LockedOut(Key(client), user);

    /// <summary>
    /// Counts one failure for the user name (null: the response could not be decoded into one) and the address;
    /// says how long to wait before the 535, or that the session must end with 421.
    /// </summary>
    public (TimeSpan Delay, bool LockedOut) RecordFailure(IPAddress client, string? user)
    {
        var now = time.GetUtcNow();
        var address = Key(client);
        int addressFailures;
        var userFailures = 0;
        lock (_gate)
        {
            addressFailures = Count(_addresses, address, now);
            if (user is not null)
            {
                userFailures = Count(_users, (address, UserKey(user)), now);
            }
        }

        if (Reaches(userFailures, options.MaxAuthFailures) || Reaches(addressFailures, options.MaxAuthFailuresPerAddress))
        {
            return (TimeSpan.Zero, true);
        }

        // The delay follows the user's count: a colleague behind the same NAT who mistypes once is not made to
        // wait for a guesser's failures; the guesser rotating names meets the address ceiling instead.
        var over = userFailures - options.AuthFailuresBeforeDelay;
        return over <= 0
            ? (TimeSpan.Zero, false)
            : (options.AuthFailureDelay * (1 << Math.Min(over - 1, MaxDoublings)), false);
    }

    /// <summary>A count at a ceiling; a ceiling of zero or less is off.</summary>
    private static bool Reaches(int failures, int max) => max > 0 && failures >= max;

    private bool LockedOut(IPAddress address, string? user)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            return Reached(_addresses, address, options.MaxAuthFailuresPerAddress, now)
                || (user is not null && options.MaxAuthFailures > 0
                    && Reached(_users, (address, UserKey(user)), options.MaxAuthFailures, now));
        }
    }

    private bool Reached<TKey>(Dictionary<TKey, Entry> entries, TKey key, int max, DateTimeOffset now)
        where TKey : notnull =>
        entries.TryGetValue(key, out var entry) && !IsExpired(entry, now) && Reaches(entry.Failures, max);

    private int Count<TKey>(Dictionary<TKey, Entry> entries, TKey key, DateTimeOffset now)
        where TKey : notnull
    {
        if (!entries.TryGetValue(key, out var entry) || IsExpired(entry, now))
        {
            if (entries.Count >= MaxTracked)
            {
                MakeRoom(entries, now);
            }

            entry = default;
        }

        var failures = entry.Failures + 1;
        entries[key] = new Entry(failures, now);
        return failures;
    }

    private bool IsExpired(Entry entry, DateTimeOffset now) => now - entry.LastFailure >= options.AuthFailureWindow;

    private void MakeRoom<TKey>(Dictionary<TKey, Entry> entries, DateTimeOffset now)
        where TKey : notnull
    {
        foreach (var (key, entry) in entries)
        {
            if (IsExpired(entry, now))
            {
                entries.Remove(key);
            }
        }

        if (entries.Count >= MaxTracked)
        {
            var oldest = entries.MinBy(pair => pair.Value.LastFailure).Key;
            entries.Remove(oldest);
        }
    }

    private UInt128 UserKey(string user)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(_userKey, Encoding.UTF8.GetBytes(user), hash);
        return new UInt128(BitConverter.ToUInt64(hash), BitConverter.ToUInt64(hash[8..]));
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
