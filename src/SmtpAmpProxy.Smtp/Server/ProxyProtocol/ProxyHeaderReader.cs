using System.Buffers;
using System.Net.Sockets;

namespace SmtpAmpProxy.Smtp.Server.ProxyProtocol;

/// <summary>
/// Takes exactly the PROXY header's bytes off a socket and not one byte more, so whatever follows (a TLS
/// ClientHello on an implicit-TLS listener, or pipelined SMTP) is still there for the session. Bytes are peeked,
/// parsed, and received for real only as far as they belong to the header.
/// </summary>
internal static class ProxyHeaderReader
{
    /// <returns>The header; null when the peer closed before sending a whole one.</returns>
    /// <exception cref="ProxyProtocolException">The bytes cannot be the start of a PROXY header.</exception>
    public static async ValueTask<ProxyHeader?> ReadAsync(Socket socket, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ProxyHeaderParser.MaxHeaderBytes);
        try
        {
            var taken = 0;
            while (true)
            {
                var peeked = await socket.ReceiveAsync(buffer.AsMemory(taken, ProxyHeaderParser.MaxHeaderBytes - taken), SocketFlags.Peek, ct);
                if (peeked == 0)
                {
                    return null;
                }

                var (complete, length, header) = Parse(buffer, taken + peeked);

                // Incomplete: every byte seen is header, so taking them all lets the next peek wait for new ones.
                var take = complete ? length - taken : peeked;
                if (!await ReceiveExactlyAsync(socket, buffer.AsMemory(taken, take), ct))
                {
                    return null;
                }

                taken += take;
                if (complete)
                {
                    return header;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static (bool Complete, int Length, ProxyHeader Header) Parse(byte[] buffer, int count)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(buffer, 0, count));
        return ProxyHeaderParser.TryParse(ref reader, out var header)
            ? (true, (int)reader.Consumed, header)
            : (false, 0, default);
    }

    private static async ValueTask<bool> ReceiveExactlyAsync(Socket socket, Memory<byte> destination, CancellationToken ct)
    {
        while (destination.Length > 0)
        {
            var received = await socket.ReceiveAsync(destination, SocketFlags.None, ct);
            if (received == 0)
            {
                return false;
            }

            destination = destination[received..];
        }

        return true;
    }
}
