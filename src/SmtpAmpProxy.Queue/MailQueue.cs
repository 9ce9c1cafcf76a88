using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Queue.Bounce;
using SmtpAmpProxy.Queue.Delivery;
using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue;

/// <summary>
/// Store and forward: accepts messages into the spool and delivers them with per-recipient state.
/// Accepted recipients are done, 4xx ones retried on the <see cref="RetrySchedule"/>, 5xx ones and those
/// still deferred after <see cref="QueueOptions.MaxLifetime"/> failed and reported to the sender in one
/// RFC 3464 notification. Every state change is on disk before the next step relies on it, so a stop at
/// any point repeats at most the last delivery (at least once, as in any MTA).
/// </summary>
internal sealed class MailQueue : IDisposable
{
    private readonly MessageSpool _spool;
    private readonly IMessageDelivery _delivery;
    private readonly QueueOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RetrySchedule _schedule;
    private readonly QueueMetrics? _metrics;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, QueuedMessage> _messages = new(StringComparer.Ordinal);

    // Entries are (id, due time); a message whose time changed has a newer entry and the old one is
    // skipped when it comes up, which is cheaper than removing from the middle of a heap.
    private readonly PriorityQueue<string, DateTimeOffset> _due = new();
    private readonly HashSet<string> _inFlight = new(StringComparer.Ordinal);
    private readonly HashSet<string> _deleted = new(StringComparer.Ordinal);
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MailQueue(MessageSpool spool, List<QueuedMessage> recovered, IMessageDelivery delivery, QueueOptions options,
        TimeProvider time, ILogger logger, Meter? meter)
    {
        _spool = spool;
        _delivery = delivery;
        _options = options;
        _time = time;
        _logger = logger;
        _schedule = new RetrySchedule(options);
        foreach (QueuedMessage message in recovered)
        {
            _messages[message.Id] = message;
            // A message with nothing outstanding still owes its notification or its removal: due now.
            _due.Enqueue(message.Id, message.NextAttempt ?? time.GetUtcNow());
        }

        if (meter is not null)
        {
            _metrics = new QueueMetrics(meter, Observe);
        }
    }

    public static MailQueue Open(QueueOptions options, IMessageDelivery delivery, TimeProvider time, ILoggerFactory loggerFactory, Meter? meter = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ILogger logger = loggerFactory.CreateLogger("SmtpAmpProxy.Queue");
        var spool = MessageSpool.Open(options, logger, out List<QueuedMessage> recovered);
        QueueLog.Opened(logger, spool.Root, recovered.Count, spool.Bytes);
        return new MailQueue(spool, recovered, delivery, options, time, logger, meter);
    }

    public string Directory => _spool.Root;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _messages.Count;
            }
        }
    }

    public long Bytes => _spool.Bytes;

    /// <summary>Copies of the queued messages, oldest first.</summary>
    public List<QueuedMessage> Snapshot()
    {
        lock (_lock)
        {
            var copy = _messages.Values.Select(m => m.Clone()).ToList();
            copy.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
            return copy;
        }
    }

    /// <summary>Spools a message; <see cref="EnqueueStatus.Accepted"/> means durable, the moment to say 250.</summary>
    /// <param name="sender">Reverse path without brackets, "" for the null sender.</param>
    public async Task<EnqueueResult> EnqueueAsync(string sender, string? mailParameters, IReadOnlyList<SmtpRecipient> recipients,
        IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(recipients);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfZero(recipients.Count);
        return await EnqueueCoreAsync(sender, mailParameters, recipients, content, isBounce: false, ct).ConfigureAwait(false);
    }

    /// <summary>Runs deliveries until cancelled: each message when it is due, at most <see cref="QueueOptions.Workers"/> at once.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var running = new HashSet<Task>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                Task wake = ResetWake();
                running.RemoveWhere(t => t.IsCompleted);
                foreach (QueuedMessage message in TakeDue(_options.Workers - running.Count))
                {
                    running.Add(Task.Run(async () =>
                    {
                        await AttemptAsync(message, ct).ConfigureAwait(false);
                        Wake();
                    }, CancellationToken.None));
                }

                TimeSpan? wait = running.Count < _options.Workers ? UntilNextDue() : null;
                if (wait == TimeSpan.Zero)
                {
                    continue;
                }

                Task sleep = wait is { } delay ? Task.Delay(delay, _time, ct) : Task.Delay(Timeout.Infinite, ct);
                await Task.WhenAny(wake, sleep).ConfigureAwait(false);
            }
        }
        finally
        {
            // Attempts end on cancellation; their state is saved or the attempt is repeated after a restart.
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    /// <summary>One pass: every message due now, delivered (up to <see cref="QueueOptions.Workers"/> at once) before it returns.</summary>
    /// <returns>How many messages were attempted.</returns>
    public async Task<int> DeliverDueAsync(CancellationToken ct)
    {
        List<QueuedMessage> due = TakeDue(int.MaxValue);
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = _options.Workers, CancellationToken = ct },
            async (message, token) => await AttemptAsync(message, token).ConfigureAwait(false)).ConfigureAwait(false);
        return due.Count;
    }

    /// <summary>Makes every deferred recipient due now, like <c>postqueue -f</c>; returns how many messages that concerns.</summary>
    public int Flush()
    {
        DateTimeOffset now = _time.GetUtcNow();
        int count = 0;
        lock (_lock)
        {
            foreach (QueuedMessage message in _messages.Values)
            {
                if (_inFlight.Contains(message.Id) || message.NextAttempt is null)
                {
                    continue;
                }

                foreach (QueuedRecipient r in message.Recipients.Where(r => r.IsOutstanding))
                {
                    r.NextAttempt = now;
                }

                _due.Enqueue(message.Id, now);
                count++;
            }
        }

        Wake();
        return count;
    }

    /// <summary>Removes a message without delivering it or reporting it; one being delivered goes when its attempt ends.</summary>
    public async Task<bool> DeleteAsync(string id)
    {
        lock (_lock)
        {
            if (!_messages.ContainsKey(id))
            {
                return false;
            }

            if (_inFlight.Contains(id))
            {
                _deleted.Add(id);
                return true;
            }

            _messages.Remove(id);
        }

        await _spool.RemoveAsync(id, durable: true).ConfigureAwait(false);
        QueueLog.Removed(_logger, id, "deleted by the operator");
        return true;
    }

    private async Task<EnqueueResult> EnqueueCoreAsync(string sender, string? mailParameters, IReadOnlyList<SmtpRecipient> recipients,
        IReadOnlyList<ReadOnlyMemory<byte>> content, bool isBounce, CancellationToken ct)
    {
        DateTimeOffset now = _time.GetUtcNow();
        long size = 0;
        foreach (ReadOnlyMemory<byte> segment in content)
        {
            size += segment.Length;
        }

        var message = new QueuedMessage
        {
            Id = QueueId.Create(now),
            Sender = sender,
            MailParameters = mailParameters,
            Arrival = now,
            Size = size,
            Recipients = recipients.Select(r => new QueuedRecipient { Address = r.Path, Parameters = r.Parameters }).ToList(),
        };
        EnqueueResult result = await _spool.WriteAsync(message, content, ignoreLimit: isBounce, ct).ConfigureAwait(false);
        if (!result.IsAccepted)
        {
            return result;
        }

        QueueLog.Queued(_logger, message.Id, message.Recipients.Count, size);
        lock (_lock)
        {
            _messages[message.Id] = message;
            _due.Enqueue(message.Id, now);
        }

        Wake();
        return result;
    }

    private List<QueuedMessage> TakeDue(int limit)
    {
        DateTimeOffset now = _time.GetUtcNow();
        var due = new List<QueuedMessage>();
        lock (_lock)
        {
            while (due.Count < limit && _due.TryPeek(out string? id, out DateTimeOffset at) && at <= now)
            {
                _due.Dequeue();
                if (!_messages.TryGetValue(id, out QueuedMessage? message) || _inFlight.Contains(id)
                    || (message.NextAttempt is { } next && next > now))
                {
                    continue;
                }

                _inFlight.Add(id);
                due.Add(message);
            }
        }

        return due;
    }

    private TimeSpan? UntilNextDue()
    {
        lock (_lock)
        {
            if (!_due.TryPeek(out _, out DateTimeOffset at))
            {
                return null;
            }

            TimeSpan wait = at - _time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
    }

    private async Task AttemptAsync(QueuedMessage message, CancellationToken ct)
    {
        bool keep = true;
        try
        {
            keep = await AttemptCoreAsync(message, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping: the state on disk is from before this attempt, which is repeated after a restart.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            QueueLog.StateNotSaved(_logger, message.Id, e.Message);
        }
        finally
        {
            bool deleted;
            lock (_lock)
            {
                _inFlight.Remove(message.Id);
                deleted = _deleted.Remove(message.Id);
                if (deleted || !keep)
                {
                    _messages.Remove(message.Id);
                }
                else
                {
                    _due.Enqueue(message.Id, message.NextAttempt ?? _time.GetUtcNow().Add(_options.MinimalBackoff));
                }
            }

            if (deleted && keep)
            {
                await _spool.RemoveAsync(message.Id, durable: true).ConfigureAwait(false);
                QueueLog.Removed(_logger, message.Id, "deleted by the operator");
            }
        }
    }

    /// <returns>Whether the message stays in the spool.</returns>
    private async Task<bool> AttemptCoreAsync(QueuedMessage message, CancellationToken ct)
    {
        List<QueuedRecipient> outstanding = message.Recipients.Where(r => r.IsOutstanding).ToList();
        byte[]? content = null;
        if (outstanding.Count > 0)
        {
            content = await _spool.ReadContentAsync(message.Id, ct).ConfigureAwait(false);
            IReadOnlyList<SmtpReply> replies = await DeliverAsync(message, outstanding, content, ct).ConfigureAwait(false);
            Record(message, outstanding, replies);
        }

        // As Postfix does, failed recipients are reported after the attempt that failed them, not when the
        // last deferred one is done: the sender learns of a 550 in minutes, not days.
        var unreported = message.Recipients.Where(r => r.Status == RecipientStatus.Failed && !r.Reported).ToList();
        if (unreported.Count > 0)
        {
            if (message.IsNullSender)
            {
                // RFC 5321 6.1: never a notification about a notification (not even to BounceTo), or mail could loop.
                QueueLog.BounceSkipped(_logger, message.Id, "null sender");
            }
            else
            {
                content ??= await _spool.ReadContentAsync(message.Id, ct).ConfigureAwait(false);
                if (!await BounceAsync(message, unreported, content, ct).ConfigureAwait(false))
                {
                    await _spool.SaveStateAsync(message, ct).ConfigureAwait(false);
                    return true;
                }
            }

            unreported.ForEach(r => r.Reported = true);
        }

        if (message.Recipients.Any(r => r.IsOutstanding))
        {
            await _spool.SaveStateAsync(message, ct).ConfigureAwait(false);
            return true;
        }

        await _spool.RemoveAsync(message.Id, durable: false).ConfigureAwait(false);
        bool anyFailed = message.Recipients.Any(r => r.Status == RecipientStatus.Failed);
        QueueLog.Removed(_logger, message.Id, anyFailed ? "delivery ended with failed recipients" : "delivered");
        return false;
    }

    private async Task<IReadOnlyList<SmtpReply>> DeliverAsync(QueuedMessage message, List<QueuedRecipient> outstanding, byte[] content, CancellationToken ct)
    {
        var request = new DeliveryRequest(message.Id, message.Sender, message.MailParameters,
            outstanding.ConvertAll(r => new SmtpRecipient(r.Address, r.Parameters)), content);
        try
        {
            IReadOnlyList<SmtpReply> replies = await _delivery.DeliverAsync(request, ct).ConfigureAwait(false);
            if (replies.Count != outstanding.Count)
            {
                throw new InvalidOperationException($"{replies.Count} replies for {outstanding.Count} recipients");
            }

            return replies;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return DeliveryReplies.ForAll(outstanding.Count, new SmtpReply(451, "4.4.0", "Delivery failed: " + e.Message));
        }
    }

    private void Record(QueuedMessage message, List<QueuedRecipient> outstanding, IReadOnlyList<SmtpReply> replies)
    {
        DateTimeOffset now = _time.GetUtcNow();
        bool expired = _schedule.HasExpired(message.Arrival, now);
        int delivered = 0, deferred = 0, failed = 0;
        var outcomes = new StringBuilder();
        for (int i = 0; i < outstanding.Count; i++)
        {
            QueuedRecipient r = outstanding[i];
            SmtpReply reply = replies[i];
            r.Attempts++;
            r.LastReply = reply;
            if (reply.IsPositive)
            {
                r.Status = RecipientStatus.Delivered;
                r.NextAttempt = null;
                delivered++;
            }
            else if (reply.IsPermanentFailure || expired)
            {
                r.Status = RecipientStatus.Failed;
                r.NextAttempt = null;
                failed++;
            }
            else
            {
                r.Status = RecipientStatus.Deferred;
                r.NextAttempt = now + _schedule.DelayAfter(r.Attempts);
                deferred++;
            }

            outcomes.Append(outcomes.Length == 0 ? "" : "; ").Append(r.Address).Append(' ')
                .Append(r.Status.ToString().ToLowerInvariant()).Append(": ").Append(reply.ToString().ReplaceLineEndings(" "));
        }

        QueueLog.DeliveryAttempt(_logger, message.Id, outstanding.Max(r => r.Attempts), delivered, deferred, failed, outcomes.ToString());
        _metrics?.Delivered(delivered);
        _metrics?.Failed(failed);
        _metrics?.Deferred(deferred);
    }

    /// <returns>Whether the notification is in the spool (or needs none).</returns>
    private async Task<bool> BounceAsync(QueuedMessage message, List<QueuedRecipient> failed, byte[] content, CancellationToken ct)
    {
        string to = _options.BounceTo ?? message.Sender;
        var report = failed.ConvertAll(r => new FailedRecipient(r.Address, r.LastReply, r.LastReply is { IsPermanentFailure: false }));
        byte[] dsn = DeliveryStatusNotification.Build(_options.ReportingMta, message.Id, to, message.Arrival, _time.GetUtcNow(), report, content);
        EnqueueResult result = await EnqueueCoreAsync("", null, [new SmtpRecipient(to)], [dsn], isBounce: true, ct).ConfigureAwait(false);
        if (!result.IsAccepted)
        {
            QueueLog.BounceSkipped(_logger, message.Id, $"notification not spooled ({result.Reason}); tried again later");
            return false;
        }

        _metrics?.Bounced();
        QueueLog.BounceQueued(_logger, result.QueueId!, to, message.Id, failed.Count);
        return true;
    }

    /// <summary>Releases the spool's lock; call after <see cref="RunAsync"/> has returned.</summary>
    public void Dispose() => _spool.Dispose();

    private (int, long, double) Observe()
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            double oldest = _messages.Count == 0 ? 0 : (now - _messages.Values.Min(m => m.Arrival)).TotalSeconds;
            return (_messages.Count, _spool.Bytes, Math.Max(0, oldest));
        }
    }

    private Task ResetWake()
    {
        lock (_lock)
        {
            if (_wake.Task.IsCompleted)
            {
                _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return _wake.Task;
        }
    }

    private void Wake()
    {
        lock (_lock)
        {
            _wake.TrySetResult();
        }
    }
}
