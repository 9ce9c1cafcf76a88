using SmtpAmpProxy.Relay;
using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Tests.Relay;

public sealed class ReleasingSegmentsTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "releasing-segments-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Windows_SpilledMessageReadInOrder_ConcatenateToTheSegments()
    {
        var body = Enumerable.Range(0, 1_000_000).Select(i => (byte)(i * 13)).ToArray();
        using var message = new MessageBuffer(4096, _directory);
        message.Write(body);
        var content = message.GetMemory();
        byte[] trace = "Received: from x\r\n"u8.ToArray();
        var segments = new ReleasingSegments([trace, content[..600_000], content[600_000..]], message);

        var joined = new List<byte>();
        for (var i = 0; i < segments.Count; i++)
        {
            Assert.True(segments[i].Length <= 256 * 1024);
            joined.AddRange(segments[i].ToArray());
        }

        Assert.Equal([.. trace, .. body], joined.ToArray());
    }

    [Fact]
    public void Windows_ReadOutOfOrderAfterRelease_StillHoldTheBytes()
    {
        var body = Enumerable.Range(0, 700_000).Select(i => (byte)(i * 7)).ToArray();
        using var message = new MessageBuffer(4096, _directory);
        message.Write(body);
        var segments = new ReleasingSegments([message.GetMemory()], message);

        var forward = segments.SelectMany(s => s.ToArray()).ToArray();
        var first = segments[0].ToArray();

        Assert.Equal(body, forward);
        Assert.Equal(body.AsSpan(0, first.Length).ToArray(), first);
    }
}
