using System.Buffers.Binary;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Queue.Delivery;
using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Queue.Tests.Support;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Tests.Spool;

/// <summary>
/// The intake log: what a crash can leave at its end, a mark lost after a message moved to its own files,
/// marks written on a quiet queue, and segments given back once every message in them has left.
/// </summary>
public sealed class IntakeLogTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> TornTails => ["partial header", "partial payload", "zeros", "flipped byte"];

    [Theory]
    [MemberData(nameof(TornTails))]
    public async Task Open_TailWrittenInPart_CutOffAndWholeRecordsKept(string tail)
    {
        using var dir = new TempDirectory();
        var ids = new List<string>();
        using (var queue = Open(dir.Path, ScriptedDelivery.Ok))
        {
            ids.Add((await QueueTest.EnqueueAsync(queue, "one", "a@example.net")).QueueId!);
            ids.Add((await QueueTest.EnqueueAsync(queue, "two", "a@example.net")).QueueId!);
        }

        string segment = Assert.Single(Segments(dir.Path));
        long whole = new FileInfo(segment).Length;
        byte[] third = await WrittenRecordAsync(dir.Path, "three");
        byte[] damage = tail switch
        {
            "partial header" => third[..7],
            "partial payload" => third[..(third.Length / 2)],
            "zeros" => new byte[4096],
            _ => Flip(third, third.Length - 3),
        };
        await File.AppendAllBytesAsync(segment, damage, Ct);
        var log = new ListLoggerFactory();

        using (var reopened = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), log))
        {
            Assert.Equal(ids.Order(StringComparer.Ordinal), reopened.Snapshot().Select(m => m.Id));
            ids.Add((await QueueTest.EnqueueAsync(reopened, "four", "a@example.net")).QueueId!);
        }

        Assert.Equal(whole, new FileInfo(segment).Length);
        Assert.Single(log.WithId(4005));
        string[] kept = Directory.Exists(Path.Combine(dir.Path, "corrupt")) ? Directory.GetFiles(Path.Combine(dir.Path, "corrupt")) : [];
        if (tail == "zeros")
        {
            Assert.Empty(kept);
        }
        else
        {
            // Nothing is thrown away: the cut bytes wait in corrupt/ for a person.
            Assert.Equal(damage, await File.ReadAllBytesAsync(Assert.Single(kept), Ct));
        }

        using var again = Open(dir.Path, ScriptedDelivery.Ok);
        Assert.Equal(ids.Order(StringComparer.Ordinal), again.Snapshot().Select(m => m.Id));
        Assert.Equal("Subject: four", QueueTest.SubjectOf(MessageSpool.ReadContentOffline(dir.Path, ids[^1])!));
    }

    [Fact]
    public async Task Deferred_MovedToFilesAndMarkLostInACrash_OneCopyWithItsDeferredState()
    {
        using var dir = new TempDirectory();
        string id = await DeferredWithMarkLostAsync(dir.Path);

        using var reopened = Open(dir.Path, ScriptedDelivery.Ok);
        QueuedMessage message = Assert.Single(reopened.Snapshot());
        Assert.Equal(id, message.Id);
        Assert.Equal(RecipientStatus.Deferred, Assert.Single(message.Recipients).Status);
        Assert.Single(MessageSpool.ReadAll(dir.Path));
    }

    [Fact]
    public async Task DeleteOffline_InFilesAndStillInTheLog_GoneFromBoth()
    {
        using var dir = new TempDirectory();
        string id = await DeferredWithMarkLostAsync(dir.Path);
        using (FileStream? held = MessageSpool.TryLock(dir.Path))
        {
            Assert.NotNull(held);
            Assert.True(MessageSpool.RemoveOffline(dir.Path, id));
        }

        Assert.Empty(MessageSpool.ReadAll(dir.Path));
        using var reopened = Open(dir.Path, ScriptedDelivery.Ok);
        Assert.Equal(0, reopened.Count);
    }

    [Fact]
    public async Task Delivered_MarkNotAwaited_WrittenByTheStopAndNotDeliveredAgain()
    {
        using var dir = new TempDirectory();
        var upstream = ScriptedDelivery.Always(ScriptedDelivery.Ok);
        using (var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            await QueueTest.EnqueueAsync(queue, "once", "a@example.net");
            Assert.Equal(1, await queue.DeliverDueAsync(Ct));
        }

        using var reopened = MailQueue.Open(QueueTest.Options(dir.Path), upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        Assert.Equal(0, reopened.Count);
        Assert.Equal(0, await reopened.DeliverDueAsync(Ct));
        Assert.Single(upstream.Requests);
    }

    [Fact]
    public async Task Delivered_MoreThanASegmentIsWorth_SegmentsDeletedAndSpaceGivenBack()
    {
        using var dir = new TempDirectory();
        byte[] message = QueueTest.Message("bulk", new string('x', 64 * 1024) + "\r\n");
        int count = (int)(IntakeLog.RecycleBytes / message.Length) + 2;
        SmtpRecipient[] to = [new("a@example.net")];
        using var queue = Open(dir.Path, ScriptedDelivery.Ok);
        for (int i = 0; i < count; i++)
        {
            Assert.True((await queue.EnqueueAsync("s@example.com", null, to, [message], Ct)).IsAccepted);
        }

        Assert.Equal(count, await queue.DeliverDueAsync(Ct));
        EnqueueResult last = await queue.EnqueueAsync("s@example.com", null, to, [message], Ct);

        Assert.True(last.IsAccepted);
        string segment = Assert.Single(Segments(dir.Path));
        Assert.True(new FileInfo(segment).Length < 2 * message.Length, $"{new FileInfo(segment).Length} bytes kept");
        Assert.Equal([last.QueueId], queue.Snapshot().Select(m => m.Id));
    }

    [Fact]
    public async Task ConcurrentWritersAcrossManySegments_DeliveredOnesGoAndTheRestReopenWhole()
    {
        using var dir = new TempDirectory();
        QueueOptions options = QueueTest.Options(dir.Path) with { IntakeSegmentBytes = 64 * 1024 };
        var sizes = new[] { 200, 5_000, 40_000, 150_000 };
        var kept = new Dictionary<string, string>();
        var sent = new ConcurrentDictionary<string, byte[]>();
        var upstream = new ScriptedDelivery(r => DeliveryReplies.ForAll(r.Recipients.Count,
            QueueTest.SubjectOf(r.Content.Span).EndsWith("-keep", StringComparison.Ordinal) ? ScriptedDelivery.Busy : ScriptedDelivery.Ok));
        using (var queue = MailQueue.Open(options, upstream, QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            for (int round = 0; round < 3; round++)
            {
                // Fifty writers at once, some messages bigger than a segment, while the last round's are delivered.
                Task<int> delivering = queue.DeliverDueAsync(Ct);
                EnqueueResult[] results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
                {
                    string subject = $"r{round}-m{i}-{(i % 5 == 0 ? "keep" : "go")}";
                    byte[] message = QueueTest.Message(subject, new string((char)('a' + (i % 26)), sizes[i % sizes.Length]) + "\r\n");
                    sent[$"Subject: {subject}"] = message;
                    EnqueueResult result = await queue.EnqueueAsync("s@example.com", null, [new SmtpRecipient("a@example.net")], [message], Ct);
                    if (subject.EndsWith("-keep", StringComparison.Ordinal))
                    {
                        lock (kept)
                        {
                            kept[result.QueueId!] = subject;
                        }
                    }

                    return result;
                }, Ct)));
                await delivering;
                Assert.All(results, r => Assert.True(r.IsAccepted));
            }

            await queue.DeliverDueAsync(Ct);

            // Every message tried exactly once: read back whole from its segment, however the segments rolled.
            Assert.Equal(150, upstream.Requests.Count);
            Assert.All(upstream.Requests, r => Assert.Equal(sent[QueueTest.SubjectOf(r.Content.Span)], r.Content.ToArray()));
            Assert.Equal(30, queue.Count);
        }

        using var reopened = MailQueue.Open(options, ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance);
        Assert.Equal(kept.Keys.Order(StringComparer.Ordinal), reopened.Snapshot().Select(m => m.Id));
        foreach ((string id, string subject) in kept)
        {
            Assert.Equal($"Subject: {subject}", QueueTest.SubjectOf(MessageSpool.ReadContentOffline(dir.Path, id)!));
        }

        // What was delivered left the log and what waits for its retry is in files: every segment was given back.
        Assert.Empty(Segments(dir.Path));
    }

    [Fact]
    public async Task Open_OlderSegmentDamaged_NewerSegmentsKeptAndTheUnreadableRestCopiedToCorrupt()
    {
        using var dir = new TempDirectory();
        QueueOptions options = QueueTest.Options(dir.Path) with { IntakeSegmentBytes = 16 * 1024 };
        var ids = new List<string>();
        using (var queue = MailQueue.Open(options, ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            for (int i = 0; i < 8; i++)
            {
                ids.Add((await queue.EnqueueAsync("s@example.com", null, [new SmtpRecipient("a@example.net")],
                    [QueueTest.Message($"m{i}", new string('x', 6000) + "\r\n")], Ct)).QueueId!);
            }
        }

        string[] segments = Segments(dir.Path);
        Assert.True(segments.Length >= 3, $"{segments.Length} segments");
        byte[] oldest = await File.ReadAllBytesAsync(segments[0], Ct);
        int messagesInOldest = ids.Count(id => MessageSpool.ReadContentOffline(dir.Path, id) is { } c
            && oldest.AsSpan().IndexOf(c) >= 0);
        oldest[20] ^= 0x01;
        await File.WriteAllBytesAsync(segments[0], oldest, Ct);
        var log = new ListLoggerFactory();

        using var reopened = MailQueue.Open(options, ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), log);

        // The damage is in the oldest segment's first record: its messages are not read, every later one is.
        Assert.Equal(ids.Count - messagesInOldest, reopened.Count);
        Assert.Single(log.WithId(4008));
        Assert.Empty(log.WithId(4005));
        Assert.Equal(oldest, await File.ReadAllBytesAsync(Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "corrupt"))), Ct));
    }

    [Fact]
    public async Task Open_RecordWholeButStateUnreadable_SkippedAndLaterRecordsKept()
    {
        using var dir = new TempDirectory();
        string kept;
        using (var queue = Open(dir.Path, ScriptedDelivery.Ok))
        {
            await QueueTest.EnqueueAsync(queue, "damaged", "a@example.net");
            kept = (await QueueTest.EnqueueAsync(queue, "kept", "a@example.net")).QueueId!;
        }

        // A record whose CRC matches but whose state is not JSON: not a torn write, so what follows stays.
        string segment = Assert.Single(Segments(dir.Path));
        byte[] bytes = await File.ReadAllBytesAsync(segment, Ct);
        int state = 16;
        bytes[state] = (byte)'!';
        uint payload = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(12, (int)payload)));
        await File.WriteAllBytesAsync(segment, bytes, Ct);
        var log = new ListLoggerFactory();

        using var reopened = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), log);
        Assert.Equal([kept], reopened.Snapshot().Select(m => m.Id));
        Assert.Single(log.WithId(4007));
        Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "corrupt")));
    }

    /// <summary>
    /// A message deferred once, so moved to its files, with the log as a crash between the files' sync and the
    /// mark's flush leaves it: the message in both places.
    /// </summary>
    private static async Task<string> DeferredWithMarkLostAsync(string directory)
    {
        string id;
        string segment;
        byte[] beforeMark;
        using (var queue = Open(directory, ScriptedDelivery.Busy))
        {
            id = (await QueueTest.EnqueueAsync(queue, "deferred", "a@example.net")).QueueId!;
            segment = Assert.Single(Segments(directory));
            beforeMark = await File.ReadAllBytesAsync(segment, Ct);
            Assert.Equal(1, await queue.DeliverDueAsync(Ct));
        }

        Assert.True(File.Exists(Path.Combine(directory, "queue", id + ".json")));
        await File.WriteAllBytesAsync(segment, beforeMark, Ct);
        return id;
    }

    private static MailQueue Open(string directory, SmtpReply reply) =>
        MailQueue.Open(QueueTest.Options(directory), ScriptedDelivery.Always(reply), QueueTest.Clock(), NullLoggerFactory.Instance);

    /// <summary>The intake segments holding records (a reopened spool starts an empty one of its own).</summary>
    private static string[] Segments(string directory) =>
        Directory.GetFiles(Path.Combine(directory, IntakeLog.Folder), "*.log").Where(p => new FileInfo(p).Length > 0).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The bytes one more message's record takes, as the log writes it (in a spool of its own).</summary>
    private static async Task<byte[]> WrittenRecordAsync(string directory, string subject)
    {
        string other = Path.Combine(directory, "other");
        using (var queue = Open(other, ScriptedDelivery.Ok))
        {
            await QueueTest.EnqueueAsync(queue, subject, "a@example.net");
        }

        byte[] record = await File.ReadAllBytesAsync(Assert.Single(Segments(other)), Ct);
        Directory.Delete(other, recursive: true);
        return record;
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        byte[] copy = [.. bytes];
        copy[at] ^= 0x01;
        return copy;
    }
}
