using System.Text;
using SmtpAmpProxy.Queue;
using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Relay;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Upstream;

/// <summary>
/// Queue mode's upstream: the spool. MAIL and RCPT are answered by the proxy (its own checks, access,
/// limits and syntax, ran before they get here); the AMP rules still refuse at the end of DATA before this
/// is reached; and DATA's 250 is said only once the message and its envelope are durable.
/// </summary>
/// <param name="deliveries">The SMTP upstream the delivery workers use: readiness describes its health.</param>
internal sealed class QueueUpstream(MailQueue queue, SmtpUpstream deliveries) : IUpstream
{
    public UpstreamHealth? Health => deliveries.Health;

    /// <summary>
    /// Mail is taken before the upstream is reached, yet SMTPUTF8 is offered on Mirror mode's terms (what the
    /// upstream's last session said), so no sender is promised what the upstream is known to lack. If it stops
    /// offering it before a delivery, that message bounces with 5.6.7 (<see cref="PoolDelivery"/>) rather than
    /// going out as UTF-8 to a server that never agreed to it.
    /// </summary>
    public bool OffersSmtpUtf8 => deliveries.OffersSmtpUtf8;

    public IUpstreamTransaction Begin(SmtpSessionInfo session) => new Transaction(queue);

    /// <summary>The reply to the end of DATA for each spool outcome (RFC 3463 4.3.1: mail system full).</summary>
    internal static SmtpReply Reply(EnqueueResult result) => result.Status switch
    {
        EnqueueStatus.Accepted => new SmtpReply(250, "2.0.0", $"Ok: queued as {result.QueueId}"),
        EnqueueStatus.SpoolFull or EnqueueStatus.DiskFull => new SmtpReply(452, "4.3.1", "Insufficient system storage, try again later"),
        _ => new SmtpReply(451, "4.3.0", "Message not stored, try again later"),
    };

    /// <summary>What the spool keeps of MAIL: BODY and SMTPUTF8, passed on at delivery where the upstream offers them.</summary>
    internal static string? Spooled(MailParameters parameters)
    {
        var kept = new StringBuilder();
        if (parameters.Body is { } body)
        {
            kept.Append("BODY=").Append(body);
        }

        if (parameters.SmtpUtf8)
        {
            kept.Append(kept.Length > 0 ? " " : "").Append("SMTPUTF8");
        }

        return kept.Length == 0 ? null : kept.ToString();
    }

    private sealed class Transaction(MailQueue queue) : IUpstreamTransaction
    {
        // The same answers every time: completed once, not allocated per command.
        private static readonly Task<SmtpReply> MailTaken = Task.FromResult(RelayReplies.MailAccepted);
        private static readonly Task<SmtpReply> RcptTaken = Task.FromResult(new SmtpReply(250, "2.1.5", "Ok"));
        private static readonly Task<SmtpReply?> NoDataRefusal = Task.FromResult<SmtpReply?>(null);

        private readonly List<SmtpRecipient> _recipients = [];
        private string? _sender;
        private string? _parameters;

        public UpstreamFault? Fault => null;

        public Task<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct)
        {
            _sender = reversePath;
            _parameters = Spooled(parameters);
            _recipients.Clear();
            return MailTaken;
        }

        public Task<SmtpReply> RcptAsync(string forwardPath, CancellationToken ct)
        {
            _recipients.Add(new SmtpRecipient(forwardPath));
            return RcptTaken;
        }

        public Task<SmtpReply?> BeginDataAsync(CancellationToken ct) => NoDataRefusal;

        public async Task<SmtpReply> DataAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct)
        {
            if (_sender is null || _recipients.Count == 0)
            {
                return new SmtpReply(503, "5.5.1", "Error: need RCPT command");
            }

            // The spool's fsyncs wait on the disk: off the socket event thread.
            await Hosting.SocketCompletions.LeaveEventThreadAsync().ConfigureAwait(false);
            EnqueueResult result = await queue.EnqueueAsync(_sender, _parameters, [.. _recipients], content, ct).ConfigureAwait(false);
            _recipients.Clear();
            return Reply(result);
        }

        public ValueTask DisposeAsync()
        {
            _recipients.Clear();
            return ValueTask.CompletedTask;
        }
    }
}
