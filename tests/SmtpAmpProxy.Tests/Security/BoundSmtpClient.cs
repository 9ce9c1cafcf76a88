using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace SmtpAmpProxy.Tests.Security;

/// <summary>
/// A raw SMTP client that can choose its source address (Linux routes all of 127/8 to lo, so 127.0.0.2
/// is "another host" to the proxy) and upgrade to TLS. Replies come back with their lines joined by '\n'.
/// </summary>
internal sealed class BoundSmtpClient : IAsyncDisposable
{
    private static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(30);

    private readonly byte[] _buffer = new byte[16 * 1024];
    private Stream _stream;
    private int _start;
    private int _end;

    private BoundSmtpClient(Socket socket)
    {
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<(BoundSmtpClient Client, string Greeting)> ConnectAsync(IPEndPoint server, IPAddress? from = null)
    {
        var client = await OpenAsync(server, from);
        return (client, await client.ReadReplyAsync());
    }

    /// <summary>Connects without reading the greeting.</summary>
    public static async Task<BoundSmtpClient> OpenAsync(IPEndPoint server, IPAddress? from = null)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (from is not null)
            {
                socket.Bind(new IPEndPoint(from, 0));
            }

            using var timeout = new CancellationTokenSource(IoTimeout);
            await socket.ConnectAsync(server, timeout.Token);
            return new BoundSmtpClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(IoTimeout);
        await _stream.WriteAsync(bytes, timeout.Token);
        await _stream.FlushAsync(timeout.Token);
    }

    public async Task<string> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>One whole reply; throws <see cref="IOException"/> when the server closes first.</summary>
    public async Task<string> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync() ?? throw new IOException("connection closed; got: " + string.Join("|", lines));
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
            {
                return string.Join('\n', lines);
            }
        }
    }

    /// <summary>Reads until the server closes; false if it did not within the timeout.</summary>
    public async Task<bool> WaitClosedAsync()
    {
        try
        {
            while (await ReadLineAsync() is not null)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async Task StartTlsAsync()
    {
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(IoTimeout);
        await tls.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions { TargetHost = "localhost", RemoteCertificateValidationCallback = (_, _, _, _) => true },
            timeout.Token);
        _stream = tls;
        _start = _end = 0;
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync();

    private async Task<string?> ReadLineAsync()
    {
        while (true)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            var lf = span.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var line = Encoding.UTF8.GetString(span[..lf]).TrimEnd('\r');
                _start += lf + 1;
                return line;
            }

            if (_end == _buffer.Length)
            {
                span.CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            using var timeout = new CancellationTokenSource(IoTimeout);
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), timeout.Token);
            if (read == 0)
            {
                return null;
            }

            _end += read;
        }
    }
}
