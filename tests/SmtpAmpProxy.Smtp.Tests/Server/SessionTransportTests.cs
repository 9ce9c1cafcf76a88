using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>
/// The session's timed reads and flushes over in-memory pipes on virtual time: a wait ends at its timeout, a
/// stop wakes only what it may end, and a peer that stops reading cannot hold a flush past the command timeout.
/// </summary>
public sealed class SessionTransportTests : IDisposable
{
    private static readonly SmtpServerOptions Options = new() { CommandTimeout = TimeSpan.FromMinutes(5) };

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly Pipe _fromClient = new();

    // The client reads nothing: past 1 KiB a write waits for it (the socket's send buffer, full).
    private readonly Pipe _toClient = new(new PipeOptions(pauseWriterThreshold: 1024, resumeWriterThreshold: 512));
    private readonly SessionTimeoutControl _timeouts;
    private readonly SessionTransport _transport;

    public SessionTransportTests()
    {
        _timeouts = new SessionTimeoutControl(_time, Options);
        _transport = new SessionTransport(new DuplexStream(_fromClient.Reader.AsStream(), _toClient.Writer.AsStream()), _timeouts);
    }

    public void Dispose() => _timeouts.Dispose();

    [Fact]
    public async Task Read_NoBytesWithinTheTimeout_TimesOut()
    {
        var read = _transport.ReadAsync(TimeSpan.FromSeconds(30), idle: true);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(read.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(ReadOutcome.TimedOut, (await read).Outcome);
    }

    [Fact]
    public async Task Read_BytesBeforeTheTimeout_ReturnsThemAndTheTimerNeverFires()
    {
        var read = _transport.ReadAsync(TimeSpan.FromSeconds(30), idle: true);
        await SendAsync("NOOP\r\n");

        var (outcome, result) = await read;

        Assert.Equal(ReadOutcome.Data, outcome);
        Assert.Equal("NOOP\r\n", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        _transport.Take(result.Buffer, result.Buffer.End);
        Assert.True(_transport.IsDrained);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.False(_timeouts.Expired);
    }

    [Fact]
    public async Task Read_DeadlineAlreadyPassed_TimesOutWithoutWaiting()
    {
        await SendAsync("NOOP\r\n");

        var (outcome, _) = await _transport.ReadAsync(TimeSpan.Zero, idle: true);

        Assert.Equal(ReadOutcome.TimedOut, outcome);
    }

    [Fact]
    public async Task RequestStop_WhileAnIdleSessionWaits_EndsTheWait()
    {
        var read = _transport.ReadAsync(Timeout.InfiniteTimeSpan, idle: true);

        _transport.RequestStop();

        Assert.Equal(ReadOutcome.Stopped, (await read).Outcome);
        Assert.True(_transport.Stopping);
    }

    [Fact]
    public async Task RequestStop_WhileATransactionWaits_KeepsWaitingForItsBytes()
    {
        var read = _transport.ReadAsync(Timeout.InfiniteTimeSpan, idle: false);

        _transport.RequestStop();
        Assert.False(read.IsCompleted);
        await SendAsync("RCPT TO:<a@example.net>\r\n");

        Assert.Equal(ReadOutcome.Data, (await read).Outcome);
    }

    [Fact]
    public async Task Abort_WhileATransactionWaits_EndsTheWait()
    {
        var read = _transport.ReadAsync(Timeout.InfiniteTimeSpan, idle: false);

        _transport.Abort();

        Assert.Equal(ReadOutcome.Stopped, (await read).Outcome);
    }

    [Fact]
    public async Task Read_ClientClosed_ReportsTheEndOfTheStream()
    {
        await _fromClient.Writer.CompleteAsync();

        var (outcome, result) = await _transport.ReadAsync(TimeSpan.FromSeconds(30), idle: true);

        Assert.Equal(ReadOutcome.Data, outcome);
        Assert.True(result.IsCompleted);
        Assert.True(result.Buffer.IsEmpty);
    }

    [Fact]
    public async Task Flush_ClientNotReading_FailsAtTheCommandTimeout()
    {
        _transport.Write(new byte[4096]);
        var flush = _transport.FlushAsync();
        Assert.False(flush.IsCompleted);

        _time.Advance(Options.CommandTimeout);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await flush);
    }

    [Fact]
    public async Task Flush_AfterAReadTimedOut_WaitsForASlowClientUnderItsOwnDeadline()
    {
        var read = _transport.ReadAsync(TimeSpan.FromSeconds(30), idle: true);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(ReadOutcome.TimedOut, (await read).Outcome);

        // The closing 421 to a client whose receive buffer is full: it waits for the client, not for nothing.
        _transport.Write(new byte[4096]);
        var flush = _transport.FlushAsync();
        Assert.False(flush.IsCompleted);
        var received = await _toClient.Reader.ReadAtLeastAsync(4096, TestContext.Current.CancellationToken);
        long length = received.Buffer.Length;
        _toClient.Reader.AdvanceTo(received.Buffer.End);

        await flush;
        Assert.Equal(4096, length);
    }

    [Fact]
    public async Task Flush_NothingWritten_CompletesAtOnceWithoutArmingATimer()
    {
        var flush = _transport.FlushAsync();

        Assert.True(flush.IsCompletedSuccessfully);
        await flush;
        _time.Advance(Options.CommandTimeout);
        Assert.False(_timeouts.Expired);
    }

    private async Task SendAsync(string text)
    {
        await _fromClient.Writer.WriteAsync(Encoding.ASCII.GetBytes(text), TestContext.Current.CancellationToken);
    }

    /// <summary>Reads what the client sends, writes what it would receive: a socket in memory.</summary>
    private sealed class DuplexStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            input.ReadAsync(buffer, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            output.WriteAsync(buffer, cancellationToken);

        public override void Flush() => output.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
