using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Logging;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Normalizer;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Quarantine;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Relay;

/// <summary>
/// Mirror semantics: every RCPT reply is the upstream's, and after DATA the sender gets the upstream's final
/// reply. The proxy never says 250 for mail the upstream has not taken, so it holds no mail and a crash loses
/// nothing: the sender retries. Where the upstream transaction stands is <see cref="UpstreamTransaction"/>'s
/// business; this handler checks the message (AMP rules, DKIM) and writes the outcome line.
/// </summary>
internal sealed class RelaySessionHandler(
    SmtpSessionInfo session, IUpstream upstream, RelaySettings settings, ILogger logger, TimeProvider time, ProxyMetrics metrics)
    : ISmtpSessionHandler
{
    // Messages up to this size are normalized on the socket event thread: the fast path and a parse of ordinary
    // mail cost microseconds here. The costliest bytes the default limits allow (capped parameters on many
    // parts, hostile-shape benchmark in README) cost about a microsecond each on the loaded 2-core machine, so
    // a few milliseconds at this size. Larger messages pay one thread-pool hop instead.
    private const int InlineNormalizeMaxBytes = 8 * 1024;

    private readonly List<string> _recipients = [];
    private IUpstreamTransaction? _transaction;

    // The open transaction's trace; null when nobody listens. Each command runs in its own async flow, so it
    // is kept here and made current again where child activities and the outcome line need it.
    private Activity? _activity;
    private string _sender = "";
    private bool _smtpUtf8;
    private long _started;
    private int _messages;

    public bool OffersSmtpUtf8 => upstream.OffersSmtpUtf8;

    public async ValueTask<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct)
    {
        await EndAsync().ConfigureAwait(false);
        _started = time.GetTimestamp();
        _activity = ProxyTracing.StartTransaction(session);
        _sender = reversePath;
        _smtpUtf8 = parameters.SmtpUtf8;
        if (!settings.IsSenderAllowed(reversePath))
        {
            var refused = new SmtpReply(553, "5.7.1", $"<{reversePath}>: Sender address rejected: domain not allowed to relay");
            LogOutcome("rejected", 0, 0, null, "none", null, "sender-domain", refused);
            metrics.MessageRejected("sender-domain");
            ProxyTracing.SetOutcome(_activity, "rejected:sender-domain", refused);
            await EndAsync().ConfigureAwait(false);
            return refused;
        }

        var transaction = upstream.Begin(session);
        SmtpReply reply;
        using (var exchange = ProxyTracing.StartEnvelope(_activity, "mail"))
        {
            reply = await transaction.MailAsync(reversePath, parameters, ct).ConfigureAwait(false);
            ProxyTracing.SetEnvelopeOutcome(exchange, reply, transaction.Fault?.Kind);
        }

        if (!reply.IsPositive)
        {
            LogRefusal(transaction, 0, 0, null, reply);
            ProxyTracing.SetOutcome(_activity, null, reply);
            await transaction.DisposeAsync().ConfigureAwait(false);
            await EndAsync().ConfigureAwait(false);
            return reply;
        }

        _transaction = transaction;
        return reply;
    }

    public async ValueTask<SmtpReply> RcptAsync(string forwardPath, string rawParameters, CancellationToken ct)
    {
        if (_transaction is not { } transaction)
        {
            return RelayReplies.NoTransaction;
        }

        SmtpReply reply;
        using (var exchange = ProxyTracing.StartEnvelope(_activity, "rcpt"))
        {
            reply = await transaction.RcptAsync(forwardPath, ct).ConfigureAwait(false);
            ProxyTracing.SetEnvelopeOutcome(exchange, reply, transaction.Fault?.Kind);
        }

        if (reply.IsPositive)
        {
            _recipients.Add(forwardPath);
        }
        else if (transaction.Fault is not null)
        {
            LogRefusal(transaction, _recipients.Count, 0, null, reply);
        }

        return reply;
    }

    public async ValueTask<SmtpReply?> DataStartAsync(CancellationToken ct)
    {
        if (_transaction is not { } transaction)
        {
            return RelayReplies.NoTransaction;
        }

        var refusal = await transaction.BeginDataAsync(ct).ConfigureAwait(false);
        if (refusal is { } refused && transaction.Fault is not null)
        {
            LogRefusal(transaction, _recipients.Count, 0, null, refused);
        }

        return refusal;
    }

    public async ValueTask<SmtpReply> DataAsync(MessageBuffer message, CancellationToken ct)
    {
        if (_transaction is not { } transaction)
        {
            return RelayReplies.NoTransaction;
        }

        metrics.MessageReceived();
        if (_activity is not null)
        {
            // This command's flow: the outcome line and the child activities below belong to the transaction.
            Activity.Current = _activity;
        }

        var spilled = message.IsSpilled;
        if (spilled || message.Length > InlineNormalizeMaxBytes)
        {
            // Mapping a spilled message and reading it back can wait on the disk, and the normalizer's work grows
            // with the message: past a few pages it would hold up every other session on this event thread.
            await SocketCompletions.LeaveEventThreadAsync().ConfigureAwait(false);
        }

        var content = message.GetMemory();

        var recipients = _recipients.Count;
        var normalizing = ProxyTracing.Source.StartActivity(ProxyTracing.Normalize);
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
            normalizing?.Dispose();
            if (_activity is { IsAllDataRequested: true })
            {
                ProxyTracing.SetOutcome(_activity, $"rejected:{result.RejectCode}", rejection);
            }
            LogOutcome("rejected", recipients, content.Length, messageId, "reject", null, result.RejectCode, rejection);
            metrics.MessageRejected(result.RejectCode ?? "reject");
            if (settings.Quarantine is { } quarantine)
            {
                await SocketCompletions.LeaveEventThreadAsync().ConfigureAwait(false);
                var record = new QuarantineRecord(session.SessionId, Client, _sender, [.. _recipients], messageId, result.RejectCode, result.RejectText, rejection);
                await quarantine.KeepAsync(content, record, time.GetUtcNow(), logger).ConfigureAwait(false);
            }

            await EndAsync().ConfigureAwait(false);
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

        normalizing?.Dispose();
        IReadOnlyList<ReadOnlyMemory<byte>> segments = output;
        if (settings.AddReceivedHeader)
        {
            var id = $"{session.SessionId:x}.{++_messages}";
            var trace = ReceivedHeader.Create(session, settings.ServerName, id, _recipients, time.GetUtcNow(), _smtpUtf8);
            segments = [trace, .. output];
        }

        // A spilled message is a mapped file: what the scan touched leaves the resident set now, and the rest
        // window by window as it is sent, so many large messages at once cost page cache rather than RSS.
        if (spilled)
        {
            message.ReleaseResident(content);
            segments = new ReleasingSegments(segments, message);
        }

        SmtpReply reply;
        using (var exchange = ProxyTracing.Source.StartActivity(ProxyTracing.UpstreamData, ActivityKind.Client))
        {
            reply = await transaction.DataAsync(segments, ct).ConfigureAwait(false);
            ProxyTracing.SetOutcome(exchange, null, reply);
        }

        var fault = transaction.Fault;
        ProxyTracing.SetOutcome(_activity, result.Verdict == AmpVerdict.Rewrite ? "repaired" : "pass", reply);
        if (logger.IsEnabled(LogLevel.Information))
        {
            var verdict = result.Verdict == AmpVerdict.Rewrite ? "rewrite" : "pass";
            var actions = result.Actions.Count == 0 ? null : string.Join(", ", result.Actions.Select(a => a.Code));

            // An upstream that refuses a message is doing its job (upstream-refused); only a fault is upstream-failed.
            var outcome = fault is not null ? "upstream-failed"
                : !reply.IsPositive ? "upstream-refused"
                : result.Verdict == AmpVerdict.Rewrite ? "repaired" : "relayed";
            LogOutcome(outcome, recipients, content.Length, messageId, verdict, actions, fault?.Kind, reply);
        }

        metrics.RelayCompleted(reply.IsPositive, lost: fault is not null, result.Actions, time.GetElapsedTime(_started));
        await EndAsync().ConfigureAwait(false);
        return reply;
    }

    public ValueTask ResetAsync(CancellationToken ct) => new(EndAsync());

    public async ValueTask DisposeAsync() => await EndAsync().ConfigureAwait(false);

    private string Client => session.RemoteEndPoint.Address.ToString();

    /// <summary>Ends the open transaction, if any: whatever it holds upstream is given back or closed.</summary>
    private async Task EndAsync()
    {
        var transaction = _transaction;
        _transaction = null;
        _recipients.Clear();
        var activity = _activity;
        _activity = null;
        activity?.Dispose();
        if (transaction is not null)
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The proxy answered for a failing upstream before DATA: one outcome line naming the fault.</summary>
    private void LogRefusal(IUpstreamTransaction transaction, int recipients, long size, string? messageId, SmtpReply reply)
    {
        if (transaction.Fault is { } fault)
        {
            LogOutcome("upstream-failed", recipients, size, messageId, "none", null, fault.Kind, reply);
        }
        else if (reply == RelayReplies.Utf8NotOffered)
        {
            // SMTPUTF8 was offered at EHLO and the upstream session taken at MAIL no longer offers it: the one
            // trace an operator gets of an upstream that changed under the proxy.
            LogOutcome("deferred", recipients, size, messageId, "none", null, "smtputf8", reply);
        }
        else if (reply.Code is 451 && reply.EnhancedCode is "4.7.1" or "4.4.5")
        {
            LogOutcome("deferred", recipients, size, messageId, "none", null, reply.EnhancedCode == "4.7.1" ? "client-share" : "pool-busy", reply);
        }
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
