using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Queue.Tests.Support;
using SmtpAmpProxy.Smtp.Client;

namespace SmtpAmpProxy.Queue.Tests.Spool;

public sealed class MessageSpoolTests
{
    [Fact]
    public async Task Enqueue_Accepted_InTheIntakeLogWithItsStateAndNoFileOfItsOwn()
    {
        using var dir = new TempDirectory();
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance);
        byte[] content = QueueTest.Message("first");

        EnqueueResult result = await queue.EnqueueAsync("sender@example.com", "BODY=8BITMIME",
            [new SmtpRecipient("a@example.net", "NOTIFY=FAILURE"), new SmtpRecipient("b@example.net")],
            [content.AsMemory(0, 10), content.AsMemory(10)], TestContext.Current.CancellationToken);

        Assert.Equal(EnqueueStatus.Accepted, result.Status);
        Assert.Equal(content, MessageSpool.ReadContentOffline(dir.Path, result.QueueId!));
        QueuedMessage stored = MessageSpool.ReadOne(dir.Path, result.QueueId!)!;
        Assert.Equal("sender@example.com", stored.Sender);
        Assert.Equal("BODY=8BITMIME", stored.MailParameters);
        Assert.Equal(["a@example.net", "b@example.net"], stored.Recipients.Select(r => r.Address));
        Assert.Equal("NOTIFY=FAILURE", stored.Recipients[0].Parameters);
        Assert.All(stored.Recipients, r => Assert.Equal(RecipientStatus.Pending, r.Status));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "tmp")));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "queue")));
        Assert.Equal(content.Length + JsonSerializer.SerializeToUtf8Bytes(stored, SpoolJson.Default.QueuedMessage).Length, queue.Bytes);
    }

    [Fact]
    public async Task Open_PartialFilesFromACrash_RemovedAndAcceptedMessagesKept()
    {
        using var dir = new TempDirectory();
        string kept;
        using (var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            kept = (await QueueTest.EnqueueAsync(queue, "kept", "a@example.net")).QueueId!;
        }

        // What a stop leaves at each step: files still being written, content renamed without its state,
        // and a state whose content never arrived.
        File.WriteAllText(Path.Combine(dir.Path, "tmp", "0000000000000000aaaa.eml"), "half a mess");
        File.WriteAllText(Path.Combine(dir.Path, "tmp", "0000000000000000aaaa.json"), "{\"id\":");
        File.WriteAllText(Path.Combine(dir.Path, "queue", "0000000000000000bbbb.eml"), "no state");
        File.WriteAllText(Path.Combine(dir.Path, "queue", "0000000000000000cccc.json"), "{}");
        var log = new ListLoggerFactory();

        using (var reopened = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), log))
        {
            Assert.Equal([kept], reopened.Snapshot().Select(m => m.Id));
        }

        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "tmp")));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "queue")));
        Assert.Equal("Subject: kept", QueueTest.SubjectOf(MessageSpool.ReadContentOffline(dir.Path, kept)!));
        Assert.Equal(4, log.WithId(4001).Count());
    }

    [Fact]
    public async Task Open_UnreadableState_MovedToCorruptNotDeleted()
    {
        using var dir = new TempDirectory();
        string id;
        using (var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Busy), QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            // Deferred, so it waits for its retry in files of its own.
            id = (await QueueTest.EnqueueAsync(queue, "damaged", "a@example.net")).QueueId!;
            Assert.Equal(1, await queue.DeliverDueAsync(TestContext.Current.CancellationToken));
        }

        File.WriteAllText(Path.Combine(dir.Path, "queue", id + ".json"), "{ not json");

        using (var reopened = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            Assert.Equal(0, reopened.Count);
        }

        Assert.True(File.Exists(Path.Combine(dir.Path, "corrupt", id + ".eml")));
        Assert.True(File.Exists(Path.Combine(dir.Path, "corrupt", id + ".json")));
    }

    [Fact]
    public async Task Enqueue_OverMaxBytes_SpoolFullAndAcceptedMessagesKept()
    {
        using var dir = new TempDirectory();
        byte[] content = QueueTest.Message("sized", new string('x', 3000) + "\r\n");
        // Room for two such messages with their state files, not three.
        QueueOptions options = QueueTest.Options(dir.Path) with { MaxBytes = (content.Length + 600) * 2 + 100 };
        var upstream = ScriptedDelivery.Always(ScriptedDelivery.Ok);
        using var queue = MailQueue.Open(options, upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        SmtpRecipient[] to = [new("a@example.net")];
        CancellationToken ct = TestContext.Current.CancellationToken;

        EnqueueResult first = await queue.EnqueueAsync("s@example.com", null, to, [content], ct);
        EnqueueResult second = await queue.EnqueueAsync("s@example.com", null, to, [content], ct);
        EnqueueResult third = await queue.EnqueueAsync("s@example.com", null, to, [content], ct);

        Assert.True(first.IsAccepted);
        Assert.True(second.IsAccepted);
        Assert.Equal(EnqueueStatus.SpoolFull, third.Status);
        Assert.Equal(2, queue.Count);
        Assert.Equal(new[] { first.QueueId, second.QueueId }.Order(StringComparer.Ordinal), MessageSpool.ReadAll(dir.Path).Select(m => m.Id));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "tmp")));

        // Delivered mail leaves the spool and frees its bytes for the next message.
        Assert.Equal(2, await queue.DeliverDueAsync(ct));
        Assert.Equal(0, queue.Bytes);
        Assert.True((await queue.EnqueueAsync("s@example.com", null, to, [content], ct)).IsAccepted);
    }

    [Fact]
    public void Open_SpoolOwnedByAnotherInstance_Refused()
    {
        using var dir = new TempDirectory();
        using var first = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance);

        IOException refused = Assert.Throws<IOException>(() =>
            MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance));
        Assert.Contains("in use by another instance", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enqueue_FiftyConcurrent_AllDurableWithDistinctIds()
    {
        using var dir = new TempDirectory();
        List<string> ids;
        using (var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            EnqueueResult[] results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
                Task.Run(() => QueueTest.EnqueueAsync(queue, $"m{i}", "a@example.net"), TestContext.Current.CancellationToken)));
            Assert.All(results, r => Assert.True(r.IsAccepted));
            ids = results.Select(r => r.QueueId!).ToList();
        }

        Assert.Equal(50, ids.Distinct().Count());
        using var reopened = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance);
        Assert.Equal(ids.Order(StringComparer.Ordinal), reopened.Snapshot().Select(m => m.Id));
        Assert.All(ids, id => Assert.StartsWith("Subject: m", QueueTest.SubjectOf(MessageSpool.ReadContentOffline(dir.Path, id)!), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dispose_Twice_SpoolReleasedOnceAndReopenable()
    {
        using var dir = new TempDirectory();
        var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance);
        await QueueTest.EnqueueAsync(queue, "kept", "a@example.net");

        queue.Dispose();
        queue.Dispose();

        using var reopened = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance);
        Assert.Equal(1, reopened.Count);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("0000000000000000000G")]
    [InlineData("00000000000000000000/")]
    [InlineData("")]
    public void QueueId_NotOurShape_Invalid(string id) => Assert.False(QueueId.IsValid(id));

    [Fact]
    public void QueueId_Created_ValidAndSortsByTime()
    {
        DateTimeOffset t = QueueTest.Clock().GetUtcNow();
        string earlier = QueueId.Create(t);
        string later = QueueId.Create(t.AddMilliseconds(1));

        Assert.True(QueueId.IsValid(earlier));
        Assert.True(string.CompareOrdinal(earlier, later) < 0);
    }
}
