using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Smtp.Tests.Buffers;

public sealed class MessageBufferResidencyTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "smtp-residency-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void ReleaseResident_SpilledMessage_BytesStayReadable()
    {
        var expected = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 31)).ToArray();
        using var buffer = new MessageBuffer(1024, _directory);
        buffer.Write(expected);
        var memory = buffer.GetMemory();
        Assert.Equal(expected, memory.ToArray());

        buffer.ReleaseResident(memory[1000..200_000]);
        buffer.ReleaseResident(memory);

        Assert.Equal(expected, buffer.GetMemory().ToArray());
    }

    [Fact]
    public void ReleaseResident_InMemoryMessage_ChangesNothing()
    {
        using var buffer = new MessageBuffer(1 << 20, _directory);
        buffer.Write("hello world"u8);
        buffer.ReleaseResident(buffer.GetMemory());
        buffer.ReleaseResident(new byte[100]);
        Assert.Equal("hello world"u8.ToArray(), buffer.GetMemory().ToArray());
    }

    [Fact]
    public void ReleaseResident_SpilledMessageTouched_LeavesResidentSet()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("RssFile in /proc/self/status is Linux only");
        }

        const int Size = 64 << 20;
        var chunk = new byte[1 << 20];
        chunk.AsSpan().Fill((byte)'x');
        using var buffer = new MessageBuffer(1024, _directory);
        for (var written = 0; written < Size; written += chunk.Length)
        {
            buffer.Write(chunk);
        }

        var memory = buffer.GetMemory();
        Assert.Equal(-1, memory.Span.IndexOfAnyExcept((byte)'x'));
        var touched = ResidentFileKilobytes();

        buffer.ReleaseResident(memory);
        var released = ResidentFileKilobytes();

        // Other tests load assemblies meanwhile, so only a drop of at least half the message is asserted.
        Assert.True(touched - released >= Size / 2 / 1024, $"RssFile {touched} kB after reading, {released} kB after release");
        Assert.Equal(-1, buffer.GetMemory().Span.IndexOfAnyExcept((byte)'x'));
    }

    private static long ResidentFileKilobytes()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssFile:", StringComparison.Ordinal));
        return long.Parse(line["RssFile:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }
}
