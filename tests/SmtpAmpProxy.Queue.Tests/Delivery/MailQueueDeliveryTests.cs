using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Queue.Delivery;
using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Queue.Tests.Support;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Tests.Delivery;

public sealed class MailQueueDeliveryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Deliver_Accepted_RemovedFromSpoolWithContentAndEnvelopeSent()
    {
        using var dir = new TempDirectory();
        var upstream = ScriptedDelivery.Always(ScriptedDelivery.Ok);
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        byte[] content = QueueTest.Message("one");
        await queue.EnqueueAsync("sender@example.com", "BODY=8BITMIME", [new SmtpRecipient("a@example.net", "NOTIFY=NEVER")], [content], Ct);

        Assert.Equal(1, await queue.DeliverDueAsync(Ct));

        DeliveryRequest sent = Assert.Single(upstream.Requests);
        Assert.Equal("sender@example.com", sent.Sender);
        Assert.Equal("BODY=8BITMIME", sent.MailParameters);
        Assert.Equal([new SmtpRecipient("a@example.net", "NOTIFY=NEVER")], sent.Recipients);
        Assert.Equal(content, sent.Content.ToArray());
        Assert.Equal(0, queue.Count);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "queue")));
    }

    [Fact]
    public async Task Deliver_Deferred_RetriedOnTheBackoffScheduleOnly()
    {
        using var dir = new TempDirectory();
        var clock = QueueTest.Clock();
        int calls = 0;
        // Refused for now three times, then accepted.
        var upstream = new ScriptedDelivery(r => DeliveryReplies.ForAll(r.Recipients.Count, ++calls <= 3 ? ScriptedDelivery.Busy : ScriptedDelivery.Ok));
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, clock, NullLoggerFactory.Instance);
        await QueueTest.EnqueueAsync(queue, "retry", "a@example.net");

        Assert.Equal(1, await queue.DeliverDueAsync(Ct));
        foreach (int seconds in new[] { 300, 600, 1200 })
        {
            clock.Advance(TimeSpan.FromSeconds(seconds - 1));
            Assert.Equal(0, await queue.DeliverDueAsync(Ct));
            clock.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(1, await queue.DeliverDueAsync(Ct));
        }

        Assert.Equal(4, upstream.Requests.Count);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Deliver_Deferred_StateSurvivesRestart()
    {
        using var dir = new TempDirectory();
        var clock = QueueTest.Clock();
        using (var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Busy), clock, NullLoggerFactory.Instance))
        {
            await QueueTest.EnqueueAsync(queue, "restart", "a@example.net");
            await queue.DeliverDueAsync(Ct);
        }

        var upstream = ScriptedDelivery.Always(ScriptedDelivery.Ok);
        using var reopened = MailQueue.Open(QueueTest.Options(dir.Path), upstream, clock, NullLoggerFactory.Instance);
        QueuedRecipient recipient = Assert.Single(Assert.Single(reopened.Snapshot()).Recipients);
        Assert.Equal(RecipientStatus.Deferred, recipient.Status);
        Assert.Equal(1, recipient.Attempts);
        Assert.Equal(clock.GetUtcNow().AddSeconds(300), recipient.NextAttempt);
        Assert.Equal(451, recipient.LastReply!.Value.Code);

        Assert.Equal(0, await reopened.DeliverDueAsync(Ct));
        clock.Advance(TimeSpan.FromSeconds(300));
        Assert.Equal(1, await reopened.DeliverDueAsync(Ct));
        Assert.Equal(0, reopened.Count);
    }

    [Fact]
    public async Task Deliver_OneOfTwoRefused550_OtherDeliveredOnceAndNotificationToSender()
    {
        using var dir = new TempDirectory();
        var refused = new SmtpReply(550, "5.1.1", "No such user");
        var upstream = new ScriptedDelivery(r => r.Recipients.Select(x => x.Path == "gone@example.net" ? refused : ScriptedDelivery.Ok).ToArray());
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        string original = (await QueueTest.EnqueueAsync(queue, "partly", "a@example.net", "gone@example.net")).QueueId!;

        await queue.DeliverDueAsync(Ct);

        QueuedMessage bounce = Assert.Single(queue.Snapshot());
        Assert.NotEqual(original, bounce.Id);
        Assert.Equal("", bounce.Sender);
        Assert.Equal("sender@example.com", Assert.Single(bounce.Recipients).Address);

        await queue.DeliverDueAsync(Ct);
        DeliveryRequest[] sent = [.. upstream.Requests];
        Assert.Equal(2, sent.Length);
        Assert.Equal(["a@example.net", "gone@example.net"], sent[0].Recipients.Select(r => r.Path));
        Assert.Equal("", sent[1].Sender);
        string dsn = Encoding.UTF8.GetString(sent[1].Content.Span);
        Assert.Contains("Final-Recipient: rfc822; gone@example.net", dsn, StringComparison.Ordinal);
        Assert.DoesNotContain("Final-Recipient: rfc822; a@example.net", dsn, StringComparison.Ordinal);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Deliver_RefusedForANullSender_NoNotification()
    {
        using var dir = new TempDirectory();
        var upstream = ScriptedDelivery.Always(new SmtpReply(550, "5.1.1", "No such user"));
        var log = new ListLoggerFactory();
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path) with { BounceTo = "postmaster@example.com" }, upstream, QueueTest.Clock(), log);
        await queue.EnqueueAsync("", null, [new SmtpRecipient("gone@example.net")], [QueueTest.Message("bounce")], Ct);

        await queue.DeliverDueAsync(Ct);

        Assert.Equal(0, queue.Count);
        Assert.Single(upstream.Requests);
        Assert.Contains(log.WithId(4102), m => m.Contains("null sender", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Deliver_BounceToConfigured_NotificationGoesThere()
    {
        using var dir = new TempDirectory();
        var upstream = new ScriptedDelivery(r => DeliveryReplies.ForAll(r.Recipients.Count,
            r.Sender.Length == 0 ? ScriptedDelivery.Ok : new SmtpReply(554, "5.7.1", "Refused")));
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path) with { BounceTo = "bounces@ops.example" }, upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        await QueueTest.EnqueueAsync(queue, "to-ops", "a@example.net");

        await queue.DeliverDueAsync(Ct);
        await queue.DeliverDueAsync(Ct);

        DeliveryRequest bounce = upstream.Requests.Last();
        Assert.Equal("", bounce.Sender);
        Assert.Equal("bounces@ops.example", Assert.Single(bounce.Recipients).Path);
    }

    [Fact]
    public async Task Deliver_DeferredPastMaxLifetime_FailsWithNotificationAndTransientStatus()
    {
        using var dir = new TempDirectory();
        var clock = QueueTest.Clock();
        var upstream = new ScriptedDelivery(r => DeliveryReplies.ForAll(r.Recipients.Count, r.Sender.Length == 0 ? ScriptedDelivery.Ok : ScriptedDelivery.Busy));
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, clock, NullLoggerFactory.Instance);
        await QueueTest.EnqueueAsync(queue, "expires", "a@example.net");
        DateTimeOffset arrival = clock.GetUtcNow();

        // Follow the schedule until the message is gone, one attempt each time it is due.
        int attempts = 0;
        while (queue.Snapshot().Any(m => m.Sender.Length > 0))
        {
            attempts += await queue.DeliverDueAsync(Ct);
            DateTimeOffset? next = queue.Snapshot().Where(m => m.Sender.Length > 0).Select(m => m.NextAttempt).FirstOrDefault();
            if (next is { } at && at > clock.GetUtcNow())
            {
                clock.Advance(at - clock.GetUtcNow());
            }

            Assert.True(attempts < 200, "never expired");
        }

        // 5 days at 300, 600, 1200, 2400 s, then every 4000 s: the attempt at or after 5 days is the last.
        Assert.True(clock.GetUtcNow() - arrival >= TimeSpan.FromDays(5));
        Assert.True(clock.GetUtcNow() - arrival < TimeSpan.FromDays(5) + TimeSpan.FromSeconds(4000));
        Assert.Equal(5 + (int)Math.Ceiling((TimeSpan.FromDays(5).TotalSeconds - 4500) / 4000), attempts);
        await queue.DeliverDueAsync(Ct);
        string dsn = Encoding.UTF8.GetString(upstream.Requests.Last().Content.Span);
        Assert.Contains("Action: failed", dsn, StringComparison.Ordinal);
        Assert.Contains("Status: 4.3.0", dsn, StringComparison.Ordinal);
        Assert.Contains("delivery expired", dsn, StringComparison.Ordinal);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Flush_DeferredMessage_DueAtOnce()
    {
        using var dir = new TempDirectory();
        var clock = QueueTest.Clock();
        int calls = 0;
        var upstream = new ScriptedDelivery(r => DeliveryReplies.ForAll(r.Recipients.Count, ++calls == 1 ? ScriptedDelivery.Busy : ScriptedDelivery.Ok));
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, clock, NullLoggerFactory.Instance);
        await QueueTest.EnqueueAsync(queue, "flushed", "a@example.net");
        await queue.DeliverDueAsync(Ct);
        Assert.Equal(0, await queue.DeliverDueAsync(Ct));

        Assert.Equal(1, queue.Flush());

        Assert.Equal(1, await queue.DeliverDueAsync(Ct));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Delete_QueuedMessage_GoneWithoutDeliveryOrNotification()
    {
        using var dir = new TempDirectory();
        var upstream = ScriptedDelivery.Always(ScriptedDelivery.Ok);
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        string id = (await QueueTest.EnqueueAsync(queue, "deleted", "a@example.net")).QueueId!;

        Assert.True(await queue.DeleteAsync(id));
        Assert.False(await queue.DeleteAsync(id));

        Assert.Equal(0, await queue.DeliverDueAsync(Ct));
        Assert.Empty(upstream.Requests);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "queue")));
    }

    [Fact]
    public async Task Deliver_UpstreamThrows_DeferredNotLost()
    {
        using var dir = new TempDirectory();
        var upstream = new ScriptedDelivery(_ => throw new InvalidOperationException("boom"));
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        await QueueTest.EnqueueAsync(queue, "thrown", "a@example.net");

        await queue.DeliverDueAsync(Ct);

        QueuedRecipient r = Assert.Single(Assert.Single(queue.Snapshot()).Recipients);
        Assert.Equal(RecipientStatus.Deferred, r.Status);
        Assert.Contains("boom", r.LastReply!.Value.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deliver_EachAttempt_OneLogLineWithQueueIdAndOutcomes()
    {
        using var dir = new TempDirectory();
        var log = new ListLoggerFactory();
        var upstream = new ScriptedDelivery(r => r.Recipients.Select(x => x.Path.StartsWith('a') ? ScriptedDelivery.Ok : ScriptedDelivery.Busy).ToArray());
        var clock = QueueTest.Clock();
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, clock, log);
        string id = (await QueueTest.EnqueueAsync(queue, "logged", "a@example.net", "b@example.net")).QueueId!;

        await queue.DeliverDueAsync(Ct);
        clock.Advance(TimeSpan.FromSeconds(300));
        await queue.DeliverDueAsync(Ct);

        string[] lines = [.. log.WithId(4100)];
        Assert.Equal(2, lines.Length);
        Assert.Contains($"Delivery {id} attempt 1: 1 delivered, 1 deferred, 0 failed", lines[0], StringComparison.Ordinal);
        Assert.Contains("b@example.net deferred: 451 4.3.0 Try again later", lines[0], StringComparison.Ordinal);
        Assert.Contains($"Delivery {id} attempt 2: 0 delivered, 1 deferred", lines[1], StringComparison.Ordinal);
        Assert.Equal(["b@example.net"], upstream.Requests.Last().Recipients.Select(r => r.Path));
    }

    [Fact]
    public async Task Metrics_QueueAndOutcomes_Reported()
    {
        using var dir = new TempDirectory();
        using var meter = new Meter("queue-test-" + Guid.NewGuid());
        var clock = QueueTest.Clock();
        var upstream = new ScriptedDelivery(r => r.Recipients.Select(x => x.Path switch
        {
            "ok@example.net" => ScriptedDelivery.Ok,
            "later@example.net" => ScriptedDelivery.Busy,
            _ => new SmtpReply(550, "5.1.1", "No"),
        }).ToArray());
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, clock, NullLoggerFactory.Instance, meter);
        var measured = new Dictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter == meter)
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        listener.Start();

        await QueueTest.EnqueueAsync(queue, "metered", "ok@example.net", "later@example.net", "no@example.net");
        await queue.DeliverDueAsync(Ct);
        clock.Advance(TimeSpan.FromSeconds(90));
        listener.RecordObservableInstruments();

        Assert.Equal(1, measured["smtp_amp_proxy.queue.deliveries/delivered"]);
        Assert.Equal(1, measured["smtp_amp_proxy.queue.deliveries/failed"]);
        Assert.Equal(1, measured["smtp_amp_proxy.queue.deferrals"]);
        Assert.Equal(1, measured["smtp_amp_proxy.queue.bounces"]);
        Assert.Equal(2, measured["smtp_amp_proxy.queue.messages"]);
        Assert.Equal(queue.Bytes, measured["smtp_amp_proxy.queue.bytes"]);
        Assert.Equal(90, measured["smtp_amp_proxy.queue.oldest_age"]);

        void Add(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string key = tags.Length > 0 ? $"{i.Name}/{tags[0].Value}" : i.Name;
            measured[key] = i is ObservableInstrument<int> or ObservableInstrument<long> or ObservableInstrument<double> ? v : measured.GetValueOrDefault(key) + v;
        }
    }

    [Fact]
    public async Task Run_NewMessageAndDeferral_DeliveredByTheLoopOnVirtualTime()
    {
        using var dir = new TempDirectory();
        var clock = QueueTest.Clock();
        var attempts = new SemaphoreSlim(0);
        int calls = 0;
        var upstream = new ScriptedDelivery(r =>
        {
            SmtpReply[] replies = DeliveryReplies.ForAll(r.Recipients.Count, Interlocked.Increment(ref calls) == 1 ? ScriptedDelivery.Busy : ScriptedDelivery.Ok);
            attempts.Release();
            return replies;
        });
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, clock, NullLoggerFactory.Instance);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task loop = queue.RunAsync(stop.Token);

        await QueueTest.EnqueueAsync(queue, "looped", "a@example.net");
        Assert.True(await attempts.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        // The deferral is saved after the attempt; wait until the loop has rescheduled it, then let 300 s pass.
        using var settle = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        settle.CancelAfter(TimeSpan.FromSeconds(30));
        while (queue.Snapshot().Single().Recipients[0].Status != RecipientStatus.Deferred)
        {
            await Task.Yield();
            settle.Token.ThrowIfCancellationRequested();
        }

        Assert.False(await attempts.WaitAsync(TimeSpan.FromMilliseconds(200), Ct));
        clock.Advance(TimeSpan.FromSeconds(300));
        Assert.True(await attempts.WaitAsync(TimeSpan.FromSeconds(30), Ct));

        await stop.CancelAsync();
        await loop;
        Assert.Equal(2, calls);
    }
}
