using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Queue.Tests.Support;
using SmtpAmpProxy.Smtp.Client;

namespace SmtpAmpProxy.Queue.Tests.Spool;

/// <summary>
/// A disk that fills, for real: the spool on a 256 KiB tmpfs. The message that does not fit is refused
/// as DiskFull (the proxy's 452 4.3.1), leaves no debris, and the messages already accepted stay whole.
/// </summary>
public sealed class DiskFullTests
{
    [Fact]
    public async Task Enqueue_FileSystemFull_DiskFullWithoutDebrisAndAcceptedMessagesKept()
    {
        using var dir = new TempDirectory();
        using var tmpfs = SmallFileSystem.Mount(dir.Path, "256k");
        byte[] message = QueueTest.Message("big", new string('x', 60 * 1024) + "\r\n");
        SmtpRecipient[] to = [new("a@example.net")];
        CancellationToken ct = TestContext.Current.CancellationToken;
        var accepted = new List<string>();

        using (var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            EnqueueResult result;
            while ((result = await queue.EnqueueAsync("s@example.com", null, to, [message], ct)).IsAccepted)
            {
                accepted.Add(result.QueueId!);
                Assert.True(accepted.Count < 10, "the file system never filled");
            }

            Assert.Equal(EnqueueStatus.DiskFull, result.Status);
            Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "tmp")));

            Assert.NotEmpty(accepted);
            Assert.All(accepted, id => Assert.Equal(message, MessageSpool.ReadContentOffline(dir.Path, id)));

            // Delivering frees the space, and the next message fits again.
            Assert.Equal(accepted.Count, await queue.DeliverDueAsync(ct));
            Assert.True((await queue.EnqueueAsync("s@example.com", null, to, [message], ct)).IsAccepted);
        }
    }
}

/// <summary>The intake log on a full disk: a mark refused with a failed batch is written later, and failures make no new segments.</summary>
public sealed class IntakeDiskFullTests
{
    [Fact]
    public async Task MarkInABatchThatFailed_WrittenLater_AndFailuresMakeNoNewSegment()
    {
        using var dir = new TempDirectory();
        using var tmpfs = SmallFileSystem.Mount(dir.Path, "256k");
        string folder = Path.Combine(dir.Path, IntakeLog.Folder);
        CancellationToken ct = TestContext.Current.CancellationToken;
        byte[] small = QueueTest.Message("small");
        byte[] huge = new byte[512 * 1024];

        using (var log = IntakeLog.Open(folder, IntakeLog.DefaultSegmentBytes, NullLogger.Instance, out _))
        {
            await log.AppendAsync("0000000000000000aaaa", State("0000000000000000aaaa", small.Length), [small]);

            // The mark waits for the next batch, and the next batch is one that cannot fit.
            Task mark = log.TryResolve("0000000000000000aaaa", now: false)!;
            for (int i = 0; i < 5; i++)
            {
                string id = $"000000000000000{i}bbbb";
                await Assert.ThrowsAnyAsync<IOException>(() => log.AppendAsync(id, State(id, huge.Length), [huge]));
            }

            await mark.WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Single(Directory.GetFiles(folder, "*.log"));
        }

        using var reopened = IntakeLog.Open(folder, IntakeLog.DefaultSegmentBytes, NullLogger.Instance, out List<QueuedMessage> recovered);
        Assert.Empty(recovered);
    }

    private static byte[] State(string id, long size) => JsonSerializer.SerializeToUtf8Bytes(new QueuedMessage
    {
        Id = id,
        Sender = "s@example.com",
        Arrival = QueueTest.Clock().GetUtcNow(),
        Size = size,
        Recipients = [new QueuedRecipient { Address = "a@example.net" }],
    }, SpoolJson.Default.QueuedMessage);
}

/// <summary>A tmpfs of a fixed size mounted over a test folder, unmounted on dispose.</summary>
internal sealed class SmallFileSystem : IDisposable
{
    private readonly string _path;

    private SmallFileSystem(string path) => _path = path;

    public static SmallFileSystem Mount(string path, string size)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("a size-limited tmpfs is a Linux file system");
        }

        var (exit, _, stderr) = QueueTest.Run("mount", ["-t", "tmpfs", "-o", $"size={size}", "tmpfs", path], TimeSpan.FromSeconds(30));
        if (exit != 0)
        {
            Assert.Skip($"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {stderr.Trim()}");
        }

        return new SmallFileSystem(path);
    }

    public void Dispose() => QueueTest.Run("umount", [_path], TimeSpan.FromSeconds(30));
}
