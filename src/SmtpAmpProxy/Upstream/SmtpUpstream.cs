using SmtpAmpProxy.Smtp;

namespace SmtpAmpProxy.Upstream;

/// <summary>The SMTP relay (SendGrid): each transaction runs on a pooled connection.</summary>
internal sealed class SmtpUpstream(SmtpConnectionPool pool) : IUpstream, IAsyncDisposable
{
    /// <summary>For tests: after an upstream fault the pool must come back to its baseline.</summary>
    internal SmtpConnectionPool Pool => pool;

    public ValueTask DisposeAsync() => pool.DisposeAsync();

    public async ValueTask<IUpstreamTransaction> BeginAsync(CancellationToken ct) =>
        new Transaction(pool, await pool.RentAsync(ct).ConfigureAwait(false));

    private sealed class Transaction(SmtpConnectionPool pool, SmtpClientConnection connection) : IUpstreamTransaction
    {
        private bool _returned;

        public IReadOnlySet<string> Extensions => connection.Extensions;

        public Task<SmtpReply> MailAsync(string reversePath, string? parameters, CancellationToken ct) =>
            connection.MailAsync(reversePath, parameters, ct);

        public Task<SmtpReply> RcptAsync(string forwardPath, CancellationToken ct) =>
            connection.RcptAsync(forwardPath, null, ct);

        public Task<SmtpReply> DataAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct) =>
            connection.DataAsync(content, ct);

        // The pool sends RSET for an unfinished transaction, and discards the connection if that fails.
        public Task AbandonAsync(CancellationToken ct) => DisposeAsync().AsTask();

        public ValueTask DisposeAsync()
        {
            if (_returned)
            {
                return ValueTask.CompletedTask;
            }

            _returned = true;
            return pool.ReturnAsync(connection);
        }
    }
}
