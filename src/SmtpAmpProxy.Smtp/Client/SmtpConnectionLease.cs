namespace SmtpAmpProxy.Smtp.Client;

/// <summary>
/// One rent of a pooled connection. The connection is reachable only through the lease and only until it
/// is given back: a renter that kept a reference cannot write into a session somebody else now holds.
/// Its user knows where the session stands and says so when giving it back: <see cref="ReturnAsync"/> for
/// a session between transactions, <see cref="DiscardAsync"/> for anything else.
/// </summary>
public sealed class SmtpConnectionLease
{
    private readonly SmtpConnectionPool _pool;
    private SmtpClientConnection? _connection;

    internal SmtpConnectionLease(SmtpConnectionPool pool, SmtpClientConnection connection)
    {
        _pool = pool;
        _connection = connection;
    }

    /// <exception cref="ObjectDisposedException">The lease was given back.</exception>
    public SmtpClientConnection Connection =>
        _connection ?? throw new ObjectDisposedException(nameof(SmtpConnectionLease), "This upstream connection was given back to the pool.");

    public bool IsReturned => _connection is null;

    /// <summary>The session is between transactions (none opened, or ended by a final reply or RSET): the pool may keep it.</summary>
    public ValueTask ReturnAsync() => _pool.ReturnAsync(Take(), keep: true, reason: null);

    /// <summary>The session is mid-transaction, inside DATA or broken: the pool closes it.</summary>
    public ValueTask DiscardAsync(string reason) => _pool.ReturnAsync(Take(), keep: false, reason);

    private SmtpClientConnection Take() =>
        Interlocked.Exchange(ref _connection, null) ?? throw new InvalidOperationException("This lease was already given back.");
}
