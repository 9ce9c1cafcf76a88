using SmtpAmpProxy.Smtp;

namespace SmtpAmpProxy.Upstream;

/// <summary>The SMTP relay (SendGrid): each transaction runs on a pooled connection.</summary>
internal sealed class SmtpUpstream(SmtpConnectionPool pool, TimeSpan rentTimeout) : IUpstream, IAsyncDisposable
{
    /// <summary>For tests: after an upstream fault the pool must come back to its baseline.</summary>
    internal SmtpConnectionPool Pool => pool;

    public ValueTask DisposeAsync() => pool.DisposeAsync();

    /// <summary>
    /// Every connection may be held by senders between MAIL and the end of DATA; a sender that finds
    /// none free within the connect timeout gets 451 4.4.1 instead of waiting without a reply.
    /// </summary>
    public async ValueTask<IUpstreamTransaction> BeginAsync(CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(rentTimeout);
        try
        {
            return new Transaction(pool, await pool.RentAsync(wait.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new SmtpConnectionException(SmtpFailureStage.Connect,
                $"no upstream connection free or opened within {rentTimeout.TotalSeconds:0.#} s", isTimeout: true);
        }
    }

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
