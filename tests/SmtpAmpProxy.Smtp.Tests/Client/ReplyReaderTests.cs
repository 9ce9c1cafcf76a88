using System.Text;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Tests.Client;

public sealed class ReplyReaderTests
{
    /// <summary>Delivers its bytes one per read, the worst split a network can produce.</summary>
    private sealed class OneByteStream(byte[] bytes) : Stream
    {
        private int _position;

        public int Reads { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => bytes.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            Reads++;
            if (_position == bytes.Length || buffer.Length == 0)
            {
                return 0;
            }

            buffer[0] = bytes[_position++];
            return 1;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task ReadAsync_OneByteReads_ReturnsEachReplyWhole()
    {
        string script = "220 ready\r\n250-upstream\r\n250-PIPELINING\r\n250 8BITMIME\r\n354 go\r\n";
        var stream = new OneByteStream(Encoding.ASCII.GetBytes(script));
        using var reader = new ReplyReader(stream);

        SmtpReply greeting = await reader.ReadAsync(TestContext.Current.CancellationToken);
        SmtpReply ehlo = await reader.ReadAsync(TestContext.Current.CancellationToken);
        SmtpReply data = await reader.ReadAsync(TestContext.Current.CancellationToken);

        Assert.Equal((220, "ready"), (greeting.Code, greeting.Text));
        Assert.Equal((250, "", "upstream\nPIPELINING\n8BITMIME"), (ehlo.Code, ehlo.EnhancedCode, ehlo.Text));
        Assert.Equal(354, data.Code);
        Assert.Equal(0, reader.Buffered);
        Assert.True(stream.Reads >= script.Length);
    }

    [Fact]
    public async Task ReadAsync_StreamEndsMidReply_ThrowsEndOfStream()
    {
        using var reader = new ReplyReader(new OneByteStream("250-partial\r\n250 "u8.ToArray()));

        await Assert.ThrowsAsync<EndOfStreamException>(() => reader.ReadAsync(TestContext.Current.CancellationToken).AsTask());
    }

    [Fact]
    public async Task ReadAsync_GarbageByteByByte_ThrowsFormatError()
    {
        using var reader = new ReplyReader(new OneByteStream("SSH-2.0-OpenSSH_9.6\r\n"u8.ToArray()));

        await Assert.ThrowsAsync<SmtpReplyFormatException>(() => reader.ReadAsync(TestContext.Current.CancellationToken).AsTask());
    }

    [Fact]
    public async Task ReadAsync_LongEhloReply_GrowsBufferAndParses()
    {
        var text = new StringBuilder("250-upstream\r\n");
        for (int i = 0; i < 600; i++)
        {
            text.Append("250-X-EXTENSION-").Append(i).Append("\r\n");
        }

        text.Append("250 LAST\r\n");
        using var reader = new ReplyReader(new MemoryStream(Encoding.ASCII.GetBytes(text.ToString())));

        SmtpReply reply = await reader.ReadAsync(TestContext.Current.CancellationToken);

        Assert.Equal(602, reply.Text.Split('\n').Length);
    }
}
