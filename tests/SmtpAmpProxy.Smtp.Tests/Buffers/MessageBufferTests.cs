using System.Net;
using System.Net.Sockets;
using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Smtp.Tests.Buffers;

public sealed class MessageBufferTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "smtp-buffer-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Write_UnderThreshold_StaysInMemory()
    {
        using var buffer = new MessageBuffer(1024, _directory);
        buffer.Write("hello "u8);
        buffer.Write("world"u8);
        Assert.False(buffer.IsSpilled);
        Assert.Equal(11, buffer.Length);
        Assert.Equal("hello world"u8.ToArray(), buffer.GetMemory().ToArray());
        Assert.False(Directory.Exists(_directory) && Directory.EnumerateFiles(_directory).Any());
    }

    [Fact]
    public void Write_ManySmallWritesUnderThreshold_KeepsEveryByte()
    {
        var expected = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();
        using var buffer = new MessageBuffer(1 << 20, _directory);
        for (var i = 0; i < expected.Length; i += 333)
        {
            buffer.Write(expected.AsSpan(i, Math.Min(333, expected.Length - i)));
        }

        Assert.Equal(expected, buffer.GetMemory().ToArray());
    }

    [Fact]
    public void Write_OverThreshold_SpillsToAFileThatHasNoNameWhileOpen()
    {
        var expected = Enumerable.Range(0, 300_000).Select(i => (byte)(i % 251)).ToArray();
        var buffer = new MessageBuffer(64 * 1024, _directory);
        for (var i = 0; i < expected.Length; i += 10_000)
        {
            buffer.Write(expected.AsSpan(i, 10_000));
        }

        // A kill -9 now leaves nothing: the folder is empty although the message is on disk.
        Assert.True(buffer.IsSpilled);
        Assert.Empty(Directory.EnumerateFiles(_directory));
        if (OperatingSystem.IsLinux())
        {
            Assert.Single(OpenDeletedFilesIn(_directory));
        }

        Assert.Equal(expected, buffer.GetMemory().ToArray());
        buffer.Dispose();
        if (OperatingSystem.IsLinux())
        {
            Assert.Empty(OpenDeletedFilesIn(_directory));
        }
    }

    [Fact]
    public void Write_SpillFolderCannotBeCreated_StopsStoringAndSaysStorageFailed()
    {
        // A regular file where the folder should be: every spill fails, as on a broken or read-only volume.
        Directory.CreateDirectory(_directory);
        var blocker = Path.Combine(_directory, "not-a-folder");
        File.WriteAllText(blocker, "x");
        var folder = new SpillFolder(Path.Combine(blocker, "spill"));
        using var buffer = new MessageBuffer(16, folder);
        buffer.Write("0123456789"u8);
        Assert.False(buffer.StorageFailed);

        buffer.Write("0123456789"u8);
        buffer.Write("more"u8);
        Assert.True(buffer.StorageFailed);
        Assert.False(buffer.StorageFull);
        Assert.NotNull(buffer.StorageError);
        Assert.False(buffer.Seal());
        Assert.Equal(24, buffer.Length);
        Assert.Equal(1, folder.WriteFailures);
        Assert.Throws<InvalidOperationException>(() => buffer.GetMemory());
        Assert.False(folder.CanWrite(out var reason));
        Assert.Contains(folder.Path, reason);
    }

    [Fact]
    public void SpillFolder_Writable_CanWriteAndLeavesNothing()
    {
        var folder = new SpillFolder(_directory);
        Assert.True(folder.CanWrite(out var reason));
        Assert.Null(reason);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_directory));
    }

    [Fact]
    public void SpillFolder_SweepStale_RemovesOnlyNamesItMakes()
    {
        Directory.CreateDirectory(_directory);
        var stale = new[] { $"smtp-{Guid.NewGuid():N}.msg", $"smtp-{Guid.NewGuid():N}.msg" };
        var kept = new[] { "smtp-notes.msg", $"smtp-{Guid.NewGuid():N}.msg.bak", "other.msg", $"SMTP-{Guid.NewGuid():N}.msg" };
        foreach (var name in stale.Concat(kept))
        {
            File.WriteAllText(Path.Combine(_directory, name), "left behind");
        }

        Assert.Equal(2, new SpillFolder(_directory).SweepStale());
        Assert.Equal(kept.Order(), Directory.EnumerateFiles(_directory).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void SpillFolder_SweepStale_MissingFolder_RemovesNothing()
    {
        Assert.Equal(0, new SpillFolder(Path.Combine(_directory, "absent")).SweepStale());
    }

    /// <summary>Files this process holds open that live in <paramref name="directory"/> but have lost their name.</summary>
    internal static IEnumerable<string> OpenDeletedFilesIn(string directory)
    {
        var prefix = Path.GetFullPath(directory).TrimEnd('/') + "/";
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }

            if (target is not null && target.StartsWith(prefix, StringComparison.Ordinal) && target.EndsWith(" (deleted)", StringComparison.Ordinal))
            {
                yield return target;
            }
        }
    }

    [Fact]
    public void GetMemory_Empty_IsEmpty()
    {
        using var buffer = new MessageBuffer(16, _directory);
        Assert.True(buffer.GetMemory().IsEmpty);
    }

    [Fact]
    public void Write_AfterGetMemoryOnSpilledBuffer_Throws()
    {
        using var buffer = new MessageBuffer(4, _directory);
        buffer.Write("0123456789"u8);
        _ = buffer.GetMemory();
        Assert.Throws<InvalidOperationException>(() => buffer.Write("x"u8));
    }

    [Fact]
    public void GetMemory_AfterDispose_Throws()
    {
        var buffer = new MessageBuffer(4, _directory);
        buffer.Write("0123456789"u8);
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => buffer.GetMemory());
    }

    [Fact]
    public async Task GetMemory_Spilled_CanBeSentOverASocket()
    {
        var expected = Enumerable.Range(0, 200_000).Select(i => (byte)(i % 253)).ToArray();
        using var buffer = new MessageBuffer(1024, _directory);
        buffer.Write(expected);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await sender.ConnectAsync(listener.LocalEndPoint!, TestContext.Current.CancellationToken);
        using var receiver = await listener.AcceptAsync(TestContext.Current.CancellationToken);
        var receive = Task.Run(async () =>
        {
            using var stream = new NetworkStream(receiver);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            return copy.ToArray();
        });
        await using (var stream = new NetworkStream(sender, ownsSocket: false))
        {
            await stream.WriteAsync(buffer.GetMemory(), TestContext.Current.CancellationToken);
        }

        sender.Shutdown(SocketShutdown.Send);
        Assert.Equal(expected, await receive.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
    }
}
