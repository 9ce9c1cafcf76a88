using System.Text;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Logging;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Relay;

/// <summary>Where a mirrored transaction stands; <see cref="UpstreamTransaction"/> is the only place that knows.</summary>
internal enum TransactionState
{
    /// <summary>Created; no MAIL yet.</summary>
    Idle,

    /// <summary>MAIL answered (the proxy answers it once it holds a connection), RCPTs mirrored one by one.</summary>
    EnvelopeHeld,

    /// <summary>The sender said DATA and is transmitting; the upstream DATA may be open already.</summary>
    DataPending,

    /// <summary>The upstream's final reply (or its refusal of DATA) went to the sender: over.</summary>
    Sent,

    /// <summary>The upstream failed in a way a new connection cannot mend: 451 for the rest of the transaction.</summary>
    Lost,
}

/// <summary>
/// One sender's mail transaction mirrored to the SMTP upstream: the one owner of where it stands.
/// The proxy knows the whole envelope, so the upstream connection is only <em>leased</em>: held while the
/// sender moves the transaction forward, given back when the sender idles longer than
/// <see cref="UpstreamLeaseSettings.MaxIdleHold"/> (between commands, or while it is still sending DATA), and,
/// when the sender goes on, replaced by another on which MAIL and the accepted RCPTs are replayed before the
/// next command. A replay answered differently from the first time ends the transaction with 451: a 250 then
/// could hide a recipient the upstream no longer takes. A connection lost before the content went out is
/// replaced the same way, once; after the content went out nobody knows whether the upstream took it, so the
/// sender gets 451 4.4.2 and retries.
/// <para>
/// Round trips: MAIL travels with the first RCPT (PIPELINING, RFC 2920), and DATA goes upstream when the
/// sender says DATA, so its 354 arrives while the message does: two upstream round trips per message for
/// a fast sender. A slow sender costs a replay (one more connection and round trip) instead of an upstream
/// session idling inside DATA until its own timeout drops it.
/// </para>
/// </summary>
internal sealed class UpstreamTransaction : IUpstreamTransaction
{
    // A sender waiting on RSET when it goes on would see the delay; a dead upstream shows within this.
    private static readonly TimeSpan ResetTimeout = TimeSpan.FromSeconds(10);

    private readonly SmtpUpstream _upstream;
    private readonly SmtpSessionInfo _session;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    // Commands come one at a time from the session; the only other actor is the idle timer.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<string> _accepted = [];
    private ITimer? _idleTimer;
    private UpstreamLease? _lease;

    // How far the current lease has come: the envelope went out on it, DATA was written and its reply is unread.
    private bool _envelopeOnLease;
    private bool _dataOnLease;
    private bool _mailAccepted;
    private SmtpReply? _mailRefusal;
    private string _sender = "";
    private MailParameters? _parameters;

    public UpstreamTransaction(SmtpUpstream upstream, SmtpSessionInfo session, ProxyMetrics metrics, ILogger logger, TimeProvider time)
    {
        _upstream = upstream;
        _session = session;
        _metrics = metrics;
        _logger = logger;
        _time = time;
    }

    public TransactionState State { get; private set; }

    public UpstreamFault? Fault { get; private set; }

    public async Task<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            Fault = null;
            if (State != TransactionState.Idle)
            {
                throw new InvalidOperationException("One transaction per MAIL.");
            }

            _sender = reversePath;
            _parameters = parameters;

            // A connection in hand before MAIL is answered: an unreachable upstream shows at MAIL, not later.
            if (await AcquireAsync(ct).ConfigureAwait(false) is { } refusal)
            {
                State = TransactionState.Sent;
                return refusal;
            }

            if (LacksSmtpUtf8(_lease!.Connection))
            {
                await GiveBackAsync().ConfigureAwait(false);
                State = TransactionState.Sent;
                return RelayReplies.Utf8NotOffered;
            }

            State = TransactionState.EnvelopeHeld;
            ArmIdle();
            return RelayReplies.MailAccepted;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The start of every step after MAIL, under the gate: the sender is active again, so the idle hold stops
    /// and the last fault is forgotten; a lost transaction or one in another state answers for itself.
    /// </summary>
    private SmtpReply? Enter(TransactionState expected, SmtpReply? outOfState = null)
    {
        StopIdle();
        Fault = null;
        if (State == TransactionState.Lost)
        {
            return RelayReplies.Lost;
        }

        return State == expected ? null : outOfState ?? RelayReplies.NoTransaction;
    }

    public async Task<SmtpReply> RcptAsync(string forwardPath, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (Enter(TransactionState.EnvelopeHeld) is { } refused)
            {
                return refused;
            }

            if (_mailRefusal is { } mailRefusal)
            {
                return mailRefusal;
            }

            for (var attempt = 0; ; attempt++)
            {
                if (await AcquireAsync(ct).ConfigureAwait(false) is { } refusal)
                {
                    return refusal;
                }

                try
                {
                    var connection = _lease!.Connection;
                    SmtpReply reply;
                    if (!_envelopeOnLease)
                    {
                        var (envelope, ended) = await SendEnvelopeAsync(connection, forwardPath, withData: false, ct).ConfigureAwait(false);
                        if (envelope is null)
                        {
                            return ended;
                        }

                        reply = envelope.Rcpts[^1];
                    }
                    else
                    {
                        reply = await connection.RcptAsync(forwardPath, null, ct).ConfigureAwait(false);
                    }

                    // RFC 5321 3.8: the upstream is closing this connection; the recipient was not answered.
                    ThrowIfClosing(reply, SmtpFailureStage.Command);
                    _metrics.UpstreamReply("rcpt", reply.Code);
                    if (reply.IsPositive)
                    {
                        _accepted.Add(forwardPath);
                    }

                    ArmIdle();
                    return reply;
                }
                catch (SmtpConnectionException e) when (!e.IsProtocolViolation && attempt == 0)
                {
                    await ReplaceLeaseAsync(e).ConfigureAwait(false);
                }
                catch (SmtpConnectionException e)
                {
                    return await LoseAsync(e).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<SmtpReply?> BeginDataAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (Enter(TransactionState.EnvelopeHeld, _mailRefusal) is { } refused)
            {
                return refused;
            }

            if (_accepted.Count == 0)
            {
                return _mailRefusal ?? RelayReplies.NoTransaction;
            }

            State = TransactionState.DataPending;
            if (_lease is { } lease && _envelopeOnLease && !lease.Connection.IsBroken)
            {
                try
                {
                    await lease.Connection.WriteDataAsync(ct).ConfigureAwait(false);
                    _dataOnLease = true;
                    ArmIdle();
                }
                catch (SmtpConnectionException e)
                {
                    // Nothing is lost yet: the envelope is replayed on another connection when the message is in.
                    await ReplaceLeaseAsync(e).ConfigureAwait(false);
                }
            }

            return null;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<SmtpReply> DataAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (Enter(TransactionState.DataPending) is { } refused)
            {
                return refused;
            }

            for (var attempt = 0; ; attempt++)
            {
                var contentStarted = false;
                try
                {
                    SmtpReply dataReply;
                    if (_dataOnLease)
                    {
                        _dataOnLease = false;
                        dataReply = await _lease!.Connection.ReadDataReplyAsync(ct).ConfigureAwait(false);
                    }
                    else
                    {
                        if (await AcquireAsync(ct).ConfigureAwait(false) is { } refusal)
                        {
                            State = TransactionState.Sent;
                            return refusal;
                        }

                        var connection = _lease!.Connection;
                        if (!_envelopeOnLease)
                        {
                            var (envelope, ended) = await SendEnvelopeAsync(connection, next: null, withData: true, ct).ConfigureAwait(false);
                            if (envelope is null)
                            {
                                return ended;
                            }

                            dataReply = envelope.Data!.Value;
                        }
                        else
                        {
                            await connection.WriteDataAsync(ct).ConfigureAwait(false);
                            dataReply = await connection.ReadDataReplyAsync(ct).ConfigureAwait(false);
                        }
                    }

                    ThrowIfClosing(dataReply, SmtpFailureStage.Command);
                    _metrics.UpstreamReply("data", dataReply.Code);
                    if (dataReply.Code == 354)
                    {
                        contentStarted = true;
                        var final = await _lease!.Connection.SendContentAsync(content, ct).ConfigureAwait(false);
                        ThrowIfClosing(final, SmtpFailureStage.Data);
                        _metrics.UpstreamReply("content", final.Code);
                        _envelopeOnLease = false;
                        await GiveBackAsync().ConfigureAwait(false);
                        State = TransactionState.Sent;
                        return final;
                    }

                    if (dataReply.IsPositive)
                    {
                        // Mirrored, a 250 here would tell the sender a message was taken that was never sent.
                        throw new SmtpConnectionException(SmtpFailureStage.Data, $"upstream answered DATA with {dataReply.Code} instead of 354",
                            reply: dataReply, isProtocolViolation: true);
                    }

                    // DATA refused: the upstream envelope is still open, RSET ends it.
                    await EndLeaseAsync().ConfigureAwait(false);
                    State = TransactionState.Sent;
                    return dataReply;
                }
                catch (SmtpConnectionException e) when (!e.IsProtocolViolation && !contentStarted && attempt == 0)
                {
                    await ReplaceLeaseAsync(e).ConfigureAwait(false);
                }
                catch (SmtpConnectionException e)
                {
                    return await LoseAsync(e).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_idleTimer is not null)
            {
                await _idleTimer.DisposeAsync().ConfigureAwait(false);
                _idleTimer = null;
            }

            await EndLeaseAsync().ConfigureAwait(false);
            if (State is not TransactionState.Lost)
            {
                State = TransactionState.Sent;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// MAIL and the accepted RCPTs, then <paramref name="next"/> if any and DATA if asked, on a lease with no envelope
    /// yet. Envelope null: the transaction ended, with <c>Ended</c> as the sender's reply.
    /// </summary>
    private async Task<(SmtpEnvelopeReplies? Envelope, SmtpReply Ended)> SendEnvelopeAsync(
        SmtpClientConnection connection, string? next, bool withData, CancellationToken ct)
    {
        if (LacksSmtpUtf8(connection))
        {
            return (null, await DifferedAsync("SMTPUTF8 no longer offered").ConfigureAwait(false));
        }

        var envelope = await connection.SendEnvelopeAsync(_sender, MailParameters(connection), Recipients(next), withData, ct).ConfigureAwait(false);
        return await CheckEnvelopeAsync(envelope).ConfigureAwait(false) is { } ended ? (null, ended) : (envelope, default);
    }

    /// <summary>421 (RFC 5321 3.8): the upstream is closing this connection, whatever the command; the connection is lost, not refused.</summary>
    private static void ThrowIfClosing(SmtpReply reply, SmtpFailureStage stage)
    {
        if (reply.Code == 421)
        {
            throw new SmtpConnectionException(stage, $"upstream closing: {reply}", reply: reply);
        }
    }

    /// <summary>
    /// The replies to an envelope sent on a fresh lease. The first MAIL's refusal is the sender's answer; on a
    /// replay everything accepted before must be accepted again. Null: go on; else the reply that ends it.
    /// </summary>
    private async Task<SmtpReply?> CheckEnvelopeAsync(SmtpEnvelopeReplies envelope)
    {
        var replay = _mailAccepted;
        _metrics.UpstreamReply("mail", envelope.Mail.Code);
        ThrowIfClosing(envelope.Mail, SmtpFailureStage.Command);

        if (!envelope.Mail.IsPositive)
        {
            if (replay)
            {
                return await DifferedAsync($"MAIL answered {envelope.Mail.Code}").ConfigureAwait(false);
            }

            // Nothing is open upstream: the connection goes back at once, and every RCPT hears the refusal.
            _mailRefusal = envelope.Mail;
            await GiveBackAsync().ConfigureAwait(false);
            return envelope.Mail;
        }

        _mailAccepted = true;
        _envelopeOnLease = true;
        for (var i = 0; i < _accepted.Count; i++)
        {
            if (!envelope.Rcpts[i].IsPositive)
            {
                return await DifferedAsync($"RCPT <{_accepted[i]}> answered {envelope.Rcpts[i].Code}").ConfigureAwait(false);
            }
        }

        if (replay)
        {
            _metrics.Replayed();
        }

        return null;
    }

    private async Task<SmtpReply> DifferedAsync(string what)
    {
        Fault = new UpstreamFault(ProxyMetrics.Lost, "Replay", false, $"replayed envelope differed: {what}");
        ProxyLog.UpstreamFailed(_logger, _session.SessionId, Client, Fault.Stage, false, Fault.Reason);
        _metrics.UpstreamFailed(ProxyMetrics.Lost);
        await DiscardAsync("replayed envelope differed").ConfigureAwait(false);
        State = TransactionState.Lost;
        return RelayReplies.ReplayDiffered;
    }

    private async Task<SmtpReply> LoseAsync(SmtpConnectionException e)
    {
        var kind = e.IsProtocolViolation ? ProxyMetrics.Protocol : ProxyMetrics.Lost;
        Fault = new UpstreamFault(kind, e.Stage.ToString(), e.IsTimeout, _upstream.Health.Sanitize(e.Message));
        ProxyLog.UpstreamFailed(_logger, _session.SessionId, Client, Fault.Stage, e.IsTimeout, Fault.Reason);
        _metrics.UpstreamFailed(kind);
        await DiscardAsync(e.Message).ConfigureAwait(false);
        State = TransactionState.Lost;
        return e.IsProtocolViolation ? RelayReplies.Protocol : RelayReplies.Lost;
    }

    /// <summary>The connection failed before anything was committed: drop it; the next attempt rents another and replays.</summary>
    private async Task ReplaceLeaseAsync(SmtpConnectionException e)
    {
        ProxyLog.UpstreamReplaced(_logger, _session.SessionId, e.Stage.ToString(), _upstream.Health.Sanitize(e.Message));
        await DiscardAsync(e.Message).ConfigureAwait(false);
    }

    /// <summary>Null with a lease in hand, else the reply that says why there is none.</summary>
    private async Task<SmtpReply?> AcquireAsync(CancellationToken ct)
    {
        if (_lease is { } held)
        {
            if (!held.Connection.IsBroken)
            {
                return null;
            }

            await DiscardAsync("broken").ConfigureAwait(false);
        }

        var (lease, refusal, fault) = await _upstream.RentAsync(_session.RemoteEndPoint.Address, ct).ConfigureAwait(false);
        if (lease is null)
        {
            Fault = fault;
            if (fault is not null)
            {
                ProxyLog.UpstreamFailed(_logger, _session.SessionId, Client, fault.Stage, fault.IsTimeout, fault.Reason);
            }

            return refusal;
        }

        _lease = lease;
        _envelopeOnLease = false;
        _dataOnLease = false;
        return null;
    }

    private void ArmIdle()
    {
        _idleTimer ??= _time.CreateTimer(static state => _ = ((UpstreamTransaction)state!).ReleaseIdleAsync(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _idleTimer.Change(_upstream.Settings.MaxIdleHold, Timeout.InfiniteTimeSpan);
    }

    private void StopIdle() => _idleTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// The sender has not moved the transaction forward for <see cref="UpstreamLeaseSettings.MaxIdleHold"/>: the
    /// connection goes back (RSET) or, inside DATA, is closed, the only way out of DATA without a message.
    /// </summary>
    private async Task ReleaseIdleAsync()
    {
        if (!_gate.Wait(0))
        {
            // A command is running; it re-arms the timer when it is done.
            return;
        }

        try
        {
            if (_lease is null)
            {
                return;
            }

            var insideData = _dataOnLease;
            await EndLeaseAsync().ConfigureAwait(false);
            _metrics.LeaseReleased(insideData ? "data" : "idle");
            ProxyLog.LeaseReleased(_logger, _session.SessionId, insideData ? "data" : "idle", _upstream.Settings.MaxIdleHold.TotalSeconds);
        }
        catch (Exception e) when (e is SmtpConnectionException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            ProxyLog.UpstreamReplaced(_logger, _session.SessionId, "Release", _upstream.Health.Sanitize(e.Message));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Ends whatever is open on the lease and gives it back: RSET for an open envelope, a close inside DATA.</summary>
    private async Task EndLeaseAsync()
    {
        if (_lease is null)
        {
            return;
        }

        if (_dataOnLease)
        {
            await DiscardAsync("left inside DATA").ConfigureAwait(false);
            return;
        }

        if (!_envelopeOnLease)
        {
            await GiveBackAsync().ConfigureAwait(false);
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(ResetTimeout);
            var reply = await _lease.Connection.RsetAsync(timeout.Token).ConfigureAwait(false);
            if (reply.Code == 250)
            {
                _envelopeOnLease = false;
                await GiveBackAsync().ConfigureAwait(false);
                return;
            }
        }
        catch (Exception e) when (e is SmtpConnectionException or OperationCanceledException)
        {
        }

        await DiscardAsync("RSET failed").ConfigureAwait(false);
    }

    private async Task GiveBackAsync()
    {
        if (TakeLease() is { } lease)
        {
            await lease.ReturnAsync().ConfigureAwait(false);
        }
    }

    private async Task DiscardAsync(string reason)
    {
        if (TakeLease() is { } lease)
        {
            await lease.DiscardAsync(reason).ConfigureAwait(false);
        }
    }

    /// <summary>The lease out of the transaction's hands, with what stood on it.</summary>
    private UpstreamLease? TakeLease()
    {
        var lease = _lease;
        _lease = null;
        _envelopeOnLease = false;
        _dataOnLease = false;
        return lease;
    }

    /// <summary>The sender's MAIL said SMTPUTF8 and this upstream session does not offer it: never sent without it.</summary>
    private bool LacksSmtpUtf8(SmtpClientConnection connection) =>
        _parameters is { SmtpUtf8: true } && !connection.Extensions.Contains("SMTPUTF8");

    /// <summary>The accepted recipients, then <paramref name="next"/> if any.</summary>
    private SmtpRecipient[] Recipients(string? next)
    {
        var all = new SmtpRecipient[_accepted.Count + (next is null ? 0 : 1)];
        for (var i = 0; i < _accepted.Count; i++)
        {
            all[i] = new SmtpRecipient(_accepted[i]);
        }

        if (next is not null)
        {
            all[^1] = new SmtpRecipient(next);
        }

        return all;
    }

    /// <summary>
    /// Passes on what the upstream understands: BODY (RFC 6152), SMTPUTF8 (RFC 6531), and SIZE (RFC 1870), so
    /// an upstream can refuse a message too large for it before it is sent.
    /// </summary>
    private string? MailParameters(SmtpClientConnection connection)
    {
        if (_parameters is not { } parameters)
        {
            return null;
        }

        var extensions = connection.Extensions;
        var builder = new StringBuilder();
        if (parameters.Body is { } body && extensions.Contains("8BITMIME"))
        {
            builder.Append("BODY=").Append(body);
        }

        if (parameters.SmtpUtf8 && extensions.Contains("SMTPUTF8"))
        {
            builder.Append(builder.Length > 0 ? " " : "").Append("SMTPUTF8");
        }

        if (parameters.Size is { } size && extensions.Contains("SIZE"))
        {
            builder.Append(builder.Length > 0 ? " " : "").Append("SIZE=").Append(size);
        }

        return builder.Length == 0 ? null : builder.ToString();
    }

    private string Client => _session.RemoteEndPoint.Address.ToString();
}
