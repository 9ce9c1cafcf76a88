using System.Buffers;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>Reads whole replies from a stream, however the bytes are split across reads.</summary>
internal sealed class ReplyReader : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(4096);
    private int _start;
    private int _end;

    public ReplyReader(Stream stream) => _stream = stream;

    /// <summary>Bytes received but not yet part of a returned reply.</summary>
    public int Buffered => _end - _start;

    /// <exception cref="EndOfStreamException">The peer closed the connection.</exception>
    /// <exception cref="SmtpReplyFormatException">The bytes are not an SMTP reply.</exception>
    public async ValueTask<SmtpReply> ReadAsync(CancellationToken ct)
    {
        while (true)
        {
            if (_end > _start && ReplyParser.TryParse(_buffer.AsSpan(_start, _end - _start), out SmtpReply reply, out int consumed))
            {
                _start += consumed;
                if (_start == _end)
                {
                    _start = _end = 0;
                }

                return reply;
            }

            MakeRoom();
            int n = await _stream.ReadAsync(_buffer.AsMemory(_end), ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new EndOfStreamException("The server closed the connection.");
            }

            _end += n;
        }
    }

    private void MakeRoom()
    {
        if (_end < _buffer.Length)
        {
            return;
        }

        int length = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, length);
        }
        else
        {
            // The parser refuses replies over MaxReplyBytes, so this stops growing there.
            byte[] bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            Buffer.BlockCopy(_buffer, 0, bigger, 0, length);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        _start = 0;
        _end = length;
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
