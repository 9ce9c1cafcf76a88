using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Smtp.Access;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>
/// A whole server session over an in-memory stream, no sockets: EHLO, a run of transactions (MAIL, two RCPT,
/// RSET) and QUIT, with a handler that answers at once. Per command: the session's dispatch, its timed reads
/// and flushes and its handler calls. Pipelined, all commands arrive in one read (replies go out in one
/// write); otherwise one command per read, as a sender that waits for each reply sends them.
/// </summary>
[MemoryDiagnoser]
public class SessionBenchmarks
{
    private const int Transactions = 100;
    private const int Commands = (Transactions * 4) + 2;

    private static readonly IPEndPoint Remote = new(IPAddress.Loopback, 40000);
    private static readonly IPEndPoint Local = new(IPAddress.Loopback, 2525);

    private byte[][] _lines = [];
    private SmtpServerContext _context = null!;

    [Params(false, true)]
    public bool Pipelined { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var lines = new List<string> { "EHLO client.example\r\n" };
        for (var i = 0; i < Transactions; i++)
        {
            lines.Add("MAIL FROM:<sender@example.com> SIZE=5120\r\n");
            lines.Add("RCPT TO:<first@example.org>\r\n");
            lines.Add("RCPT TO:<second@example.net>\r\n");
            lines.Add("RSET\r\n");
        }

        lines.Add("QUIT\r\n");
        _lines = Pipelined ? [Encoding.ASCII.GetBytes(string.Concat(lines))] : [.. lines.Select(Encoding.ASCII.GetBytes)];
        var options = new SmtpServerOptions { Access = new RelayAccessPolicy { AllowedNetworks = [IpNetwork.Parse("127.0.0.0/8")] } };
        _context = new SmtpServerContext(options, new AnsweringHandler(), NullLogger.Instance, TimeProvider.System);
    }

    [Benchmark(OperationsPerInvoke = Commands)]
    public Task Session()
    {
        var info = new SmtpSessionInfo(1, Remote, Local) { RelayByNetwork = true };
        return new SmtpSession(_context, new ScriptedStream(_lines), TlsMode.None, info, refusal: null).RunAsync();
    }

    /// <summary>Hands out one scripted chunk per read (or what fits of it), then the end of the stream; what is written is dropped.</summary>
    private sealed class ScriptedStream(byte[][] chunks) : Stream
    {
        private int _next;
        private int _offset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_next == chunks.Length)
            {
                return 0;
            }

            var rest = chunks[_next].AsSpan(_offset);
            var length = Math.Min(rest.Length, buffer.Length);
            rest[..length].CopyTo(buffer);
            _offset += length;
            if (_offset == chunks[_next].Length)
            {
                _next++;
                _offset = 0;
            }

            return length;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => new(Read(buffer.Span));

        public override void Write(byte[] buffer, int offset, int count)
        {
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => default;

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private sealed class AnsweringHandler : ISmtpSessionHandlerFactory, ISmtpSessionHandler
    {
        private static readonly SmtpReply Ok = new(250, "2.1.0", "Ok");

        public ISmtpSessionHandler Create(SmtpSessionInfo session) => this;

        public ValueTask<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct) => new(Ok);

        public ValueTask<SmtpReply> RcptAsync(string forwardPath, string rawParameters, CancellationToken ct) => new(Ok);

        public ValueTask<SmtpReply> DataAsync(MessageBuffer message, CancellationToken ct) => new(Ok);

        public ValueTask ResetAsync(CancellationToken ct) => default;

        public ValueTask DisposeAsync() => default;
    }
}
