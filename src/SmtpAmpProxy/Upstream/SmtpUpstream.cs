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

    /// <summary>
    /// MAIL is held and sent with the first RCPT (one write with PIPELINING, RFC 2920), and DATA is sent when
    /// the sender says DATA, so its 354 arrives while the message does: a message costs the upstream two
    /// round trips instead of four. The sender's MAIL is answered by the proxy once a connection is in hand;
    /// an upstream refusal of MAIL becomes the reply to every RCPT of the transaction, so no recipient is
    /// ever accepted that the upstream did not accept.
    /// </summary>
    private sealed class Transaction(SmtpConnectionPool pool, SmtpClientConnection connection) : IUpstreamTransaction
    {
        private static readonly Task<SmtpReply> SenderHeld = Task.FromResult(new SmtpReply(250, "2.1.0", "Ok"));

        private bool _returned;
        private string? _heldSender;
        private string? _heldParameters;
        private SmtpReply? _mailRefusal;

        public IReadOnlySet<string> Extensions => connection.Extensions;

        public Task<SmtpReply> MailAsync(string reversePath, string? parameters, CancellationToken ct)
        {
            _heldSender = reversePath;
            _heldParameters = parameters;
            _mailRefusal = null;
            return SenderHeld;
        }

        public async Task<SmtpReply> RcptAsync(string forwardPath, CancellationToken ct)
        {
            if (_mailRefusal is { } refusal)
            {
                return refusal;
            }

            if (_heldSender is not { } sender)
            {
                return await connection.RcptAsync(forwardPath, null, ct).ConfigureAwait(false);
            }

            _heldSender = null;
            var envelope = await connection.SendEnvelopeAsync(sender, _heldParameters, [new SmtpRecipient(forwardPath)], ct).ConfigureAwait(false);
            if (envelope.Mail.IsPositive)
            {
                return envelope.Rcpts[0];
            }

            // Nothing is open upstream now: the connection goes back to the pool at once rather than staying
            // rented until the sender resets or leaves.
            _mailRefusal = envelope.Mail;
            await DisposeAsync().ConfigureAwait(false);
            return envelope.Mail;
        }

        public Task BeginDataAsync(CancellationToken ct) =>
            _heldSender is null && _mailRefusal is null ? connection.BeginDataAsync(ct) : Task.CompletedTask;

        public Task<SmtpReply> DataAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct) =>
            connection.DataAsync(content, ct);

        // The pool sends RSET for an unfinished transaction, closes a connection left inside DATA, and
        // discards the connection if either fails.
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
