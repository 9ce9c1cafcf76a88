using System.Text;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Logging;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Normalizer;
using SmtpAmpProxy.Quarantine;
using SmtpAmpProxy.Smtp;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Relay;

/// <summary>
/// Mirror semantics: the upstream transaction opens at MAIL, every RCPT reply is the upstream's, and
/// after DATA the sender gets the upstream's final reply. The proxy never says 250 for mail the
/// upstream has not taken, so it holds no mail and a crash loses nothing: the sender retries.
/// </summary>
internal sealed class RelaySessionHandler(
    SmtpSessionInfo session, IUpstream upstream, RelaySettings settings, ILogger logger, TimeProvider time, ProxyMetrics metrics)
    : ISmtpSessionHandler
{
    private static readonly SmtpReply Unreachable = new(451, "4.4.1", "Upstream relay unreachable, try again later");
    private static readonly SmtpReply UpstreamLost = new(451, "4.4.2", "Upstream relay connection lost, try again later");
    private static readonly SmtpReply NoTransaction = new(503, "5.5.1", "Error: need MAIL command");

    private readonly List<string> _recipients = [];
    private IUpstreamTransaction? _transaction;

    // Set when the upstream was lost mid-transaction: the rest of that transaction gets 451 4.4.2
    // (retry later), never 503, which a sender would take as a permanent failure and bounce.
    private bool _lost;
    private string _sender = "";
    private long _started;
    private int _messages;

    public async ValueTask<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct)
    {
        await AbandonAsync(ct).ConfigureAwait(false);
        _lost = false;
        _started = time.GetTimestamp();
        _sender = reversePath;
        if (!settings.IsSenderAllowed(reversePath))
        {
            var refused = new SmtpReply(553, "5.7.1", $"<{reversePath}>: Sender address rejected: domain not allowed to relay");
            LogOutcome("rejected", 0, 0, null, "none", null, "sender-domain", refused);
            metrics.MessageRejected("sender-domain");
            return refused;
        }

        try
        {
            _transaction = await upstream.BeginAsync(ct).ConfigureAwait(false);
        }
        catch (SmtpConnectionException e)
        {
            ProxyLog.UpstreamFailed(logger, session.SessionId, Client, e.Stage.ToString(), e.IsTimeout, e.Message);
            metrics.UpstreamFailed(ProxyMetrics.Unreachable, e.Message);
            LogOutcome("upstream-failed", 0, 0, null, "none", null, null, Unreachable);
            return Unreachable;
        }

        var reply = await MirrorAsync(
            (reversePath, parameters), static (t, state, ct) => t.MailAsync(state.reversePath, UpstreamParameters(state.parameters, t.Extensions), ct), ct)
            .ConfigureAwait(false);
        if (!reply.IsPositive)
        {
            await AbandonAsync(ct).ConfigureAwait(false);
        }

        return reply;
    }

    public async ValueTask<SmtpReply> RcptAsync(string forwardPath, string rawParameters, CancellationToken ct)
    {
        if (_transaction is null)
        {
            return NoTransactionReply;
        }

        var reply = await MirrorAsync(forwardPath, static (t, path, ct) => t.RcptAsync(path, ct), ct).ConfigureAwait(false);
        if (reply.IsPositive)
        {
            _recipients.Add(forwardPath);
        }

        return reply;
    }

    /// <summary>
    /// The upstream's DATA goes out now and its 354 is read once the message is in, so that round trip
    /// overlaps the sender's transmission. A message refused later (AMP rules, size) closes that upstream
    /// connection, the only way to leave DATA without delivering something.
    /// </summary>
    public async ValueTask<SmtpReply?> DataStartAsync(CancellationToken ct)
    {
        if (_transaction is null)
        {
            return NoTransactionReply;
        }

        try
        {
            await _transaction.BeginDataAsync(ct).ConfigureAwait(false);
            return null;
        }
        catch (SmtpConnectionException e)
        {
            return await LoseTransactionAsync(e.Stage.ToString(), e.IsTimeout, e.Message).ConfigureAwait(false);
        }
    }

    public async ValueTask<SmtpReply> DataAsync(MessageBuffer message, CancellationToken ct)
    {
        if (_transaction is null)
        {
            return NoTransactionReply;
        }

        metrics.MessageReceived();
        var spilled = message.IsSpilled;
        if (spilled)
        {
            // Mapping a spilled message and reading it back can wait on the disk.
            await SocketCompletions.LeaveEventThreadAsync().ConfigureAwait(false);
        }

        var content = message.GetMemory();

        var recipients = _recipients.Count;
        var result = AmpNormalizer.Normalize(content, settings.MimeLimits, settings.Amp);
        // The Message-ID only feeds log lines: at Warning level a relayed message logs nothing, so it is not looked for.
        var messageId = logger.IsEnabled(LogLevel.Information) || result.Warnings.Count > 0 || result.Verdict == AmpVerdict.Reject
            ? MessageFacts.FindMessageId(content.Span)
            : null;
        foreach (var warning in result.Warnings)
        {
            ProxyLog.AmpWarning(logger, session.SessionId, messageId, warning.Code, warning.Description);
            metrics.AmpWarning(warning.Code);
        }

        if (result.Verdict == AmpVerdict.Reject)
        {
            var rejection = new SmtpReply(554, "5.6.0", $"{result.RejectCode}: {result.RejectText}");
            LogOutcome("rejected", recipients, content.Length, messageId, "reject", null, result.RejectCode, rejection);
            metrics.MessageRejected(result.RejectCode ?? "reject");
            if (settings.Quarantine is { } quarantine)
            {
                await SocketCompletions.LeaveEventThreadAsync().ConfigureAwait(false);
                var record = new QuarantineRecord(session.SessionId, Client, _sender, [.. _recipients], messageId, result.RejectCode, result.RejectText, rejection);
                await quarantine.KeepAsync(content, record, time.GetUtcNow(), logger).ConfigureAwait(false);
            }

            await AbandonAsync(ct).ConfigureAwait(false);
            return rejection;
        }

        var output = AmpNormalizer.GetOutputSegments(content, result);
        if (result.Verdict == AmpVerdict.Rewrite && settings.Dkim.OnRepair == Configuration.DkimRepairAction.Resign)
        {
            // An RSA signature costs about a millisecond of CPU.
            await SocketCompletions.LeaveEventThreadAsync().ConfigureAwait(false);
        }

        // A repair changes the body, so a sender's DKIM signature no longer verifies (and Gmail then
        // shows the HTML instead of the AMP part): keep, remove or re-sign, as configured.
        var dkim = DkimRepairPolicy.Apply(output, result.Verdict == AmpVerdict.Rewrite, settings.Dkim.OnRepair, settings.DkimKeys, time.GetUtcNow());
        if (dkim.Outcome.Kind is not (DkimOutcomeKind.NotRepaired or DkimOutcomeKind.NoSignature))
        {
            ProxyLog.DkimOutcome(logger, session.SessionId, messageId, dkim.Outcome.Code, dkim.Outcome.Description);
        }

        output = dkim.Segments;
        if (settings.TagMessages)
        {
            output = Webhook.SmtpApiTag.Apply(output, result.Verdict == AmpVerdict.Rewrite, logger, session.SessionId, messageId);
        }

        IReadOnlyList<ReadOnlyMemory<byte>> segments = output;
        if (settings.AddReceivedHeader)
        {
            var id = $"{session.SessionId:x}.{++_messages}";
            var trace = ReceivedHeader.Create(session, settings.ServerName, id, _recipients, time.GetUtcNow());
            segments = [trace, .. output];
        }

        // A spilled message is a mapped file: what the scan touched leaves the resident set now, and the rest
        // window by window as it is sent, so many large messages at once cost page cache rather than RSS.
        if (spilled)
        {
            message.ReleaseResident(content);
            segments = new ReleasingSegments(segments, message);
        }

        var reply = await MirrorAsync(segments, static (t, segments, ct) => t.DataAsync(segments, ct), ct).ConfigureAwait(false);
        if (logger.IsEnabled(LogLevel.Information))
        {
            var verdict = result.Verdict == AmpVerdict.Rewrite ? "rewrite" : "pass";
            var actions = result.Actions.Count == 0 ? null : string.Join(", ", result.Actions.Select(a => a.Code));
            var outcome = !reply.IsPositive ? "upstream-failed" : result.Verdict == AmpVerdict.Rewrite ? "repaired" : "relayed";
            LogOutcome(outcome, recipients, content.Length, messageId, verdict, actions, null, reply);
        }

        metrics.RelayCompleted(reply.IsPositive, lost: _transaction is null, result.Actions, time.GetElapsedTime(_started));
        await AbandonAsync(ct).ConfigureAwait(false);
        return reply;
    }

    public ValueTask ResetAsync(CancellationToken ct)
    {
        _lost = false;
        return new(AbandonAsync(ct));
    }

    public async ValueTask DisposeAsync() => await AbandonAsync(CancellationToken.None).ConfigureAwait(false);

    private string Client => session.RemoteEndPoint.Address.ToString();

    /// <summary>What a command gets without an open transaction: 451 after an upstream loss (retry), else 503.</summary>
    private SmtpReply NoTransactionReply => _lost ? UpstreamLost : NoTransaction;

    /// <summary>
    /// Runs one upstream command. A lost connection ends the transaction (the pool discards the
    /// connection) and the sender gets 451 4.4.2, so it retries later instead of losing the message.
    /// </summary>
    private async Task<SmtpReply> MirrorAsync<TState>(
        TState state, Func<IUpstreamTransaction, TState, CancellationToken, Task<SmtpReply>> command, CancellationToken ct)
    {
        try
        {
            var reply = await command(_transaction!, state, ct).ConfigureAwait(false);
            if (reply.Code == 421)
            {
                // 421 means "this connection is closing" (RFC 5321 §3.8). Passed on, it would tell the
                // sender that the proxy is closing, which it is not: the transaction is lost, retry later.
                return await LoseTransactionAsync("Command", false, reply.ToString()).ConfigureAwait(false);
            }

            return reply;
        }
        catch (SmtpConnectionException e)
        {
            return await LoseTransactionAsync(e.Stage.ToString(), e.IsTimeout, e.Message).ConfigureAwait(false);
        }
    }

    /// <summary>The upstream went away mid-transaction: log it, give the connection back (the pool discards it) and answer 451 4.4.2 from now on.</summary>
    private async Task<SmtpReply> LoseTransactionAsync(string stage, bool isTimeout, string reason)
    {
        ProxyLog.UpstreamFailed(logger, session.SessionId, Client, stage, isTimeout, reason);
        metrics.UpstreamFailed(ProxyMetrics.Lost, reason);
        await AbandonAsync(CancellationToken.None).ConfigureAwait(false);
        _lost = true;
        return UpstreamLost;
    }

    private async Task AbandonAsync(CancellationToken ct)
    {
        var transaction = _transaction;
        _transaction = null;
        _recipients.Clear();
        if (transaction is not null)
        {
            await transaction.AbandonAsync(ct).ConfigureAwait(false);
            await transaction.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Passes on what the upstream understands; the rest was the proxy's to honour (SIZE).</summary>
    private static string? UpstreamParameters(MailParameters parameters, IReadOnlySet<string> extensions)
    {
        var builder = new StringBuilder();
        if (parameters.Body is { } body && extensions.Contains("8BITMIME"))
        {
            builder.Append("BODY=").Append(body);
        }

        if (parameters.SmtpUtf8 && extensions.Contains("SMTPUTF8"))
        {
            builder.Append(builder.Length > 0 ? " " : "").Append("SMTPUTF8");
        }

        return builder.Length == 0 ? null : builder.ToString();
    }

    private void LogOutcome(string outcome, int recipients, long size, string? messageId, string verdict, string? actions, string? code, SmtpReply reply)
    {
        if (!logger.IsEnabled(LogLevel.Information))
        {
            return;
        }

        var replyText = $"{reply.Code} {reply.EnhancedCode} {reply.Text}".Replace("  ", " ", StringComparison.Ordinal);
        ProxyLog.MessageOutcome(logger, outcome, session.SessionId, Client, _sender, recipients, messageId, size, verdict,
            actions, code, replyText, MessageFacts.FindQueueId(reply.Text), time.GetElapsedTime(_started).TotalMilliseconds);
    }
}
