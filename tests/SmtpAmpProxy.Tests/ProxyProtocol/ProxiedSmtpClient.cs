using System.Net;
using System.Net.Sockets;
using System.Text;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.ProxyProtocol;

/// <summary>A client that sends a PROXY header as its first bytes, as a load balancer would, then speaks SMTP.</summary>
internal sealed class ProxiedSmtpClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[8192];
    private readonly StringBuilder _pending = new();

    private ProxiedSmtpClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<(ProxiedSmtpClient Client, string Greeting)> ConnectAsync(IPEndPoint endPoint, string header)
    {
        var tcp = new TcpClient(endPoint.AddressFamily) { NoDelay = true };
        await tcp.ConnectAsync(endPoint, TestContext.Current.CancellationToken);
        var client = new ProxiedSmtpClient(tcp);
        await client.SendAsync(Encoding.ASCII.GetBytes(header));
        return (client, await client.ReadReplyAsync());
    }

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes, TestContext.Current.CancellationToken);

    public async Task<string> CommandAsync(string line)
    {
        await SendAsync(Encoding.UTF8.GetBytes(line + "\r\n"));
        return await ReadReplyAsync();
    }

    /// <summary>EHLO, MAIL, RCPT, DATA; the first refusal or the reply to the data.</summary>
    public async Task<string> SendMessageAsync(string from, string to, byte[] message)
    {
        foreach (var command in new[] { "EHLO client.test", $"MAIL FROM:<{from}>", $"RCPT TO:<{to}>" })
        {
            var reply = await CommandAsync(command);
            if (!reply.StartsWith('2'))
            {
                return reply;
            }
        }

        Assert.StartsWith("354", await CommandAsync("DATA"));
        await SendAsync(TestMessages.DotStuff(message));
        await SendAsync("\r\n.\r\n"u8.ToArray());
        return await ReadReplyAsync();
    }

    /// <summary>One whole reply, its lines joined with CRLF; throws when the server closes first.</summary>
    public async Task<string> ReadReplyAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var lines = new List<string>();
        while (true)
        {
            var text = _pending.ToString();
            var end = text.IndexOf("\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var line = text[..end];
                _pending.Remove(0, end + 2);
                lines.Add(line);
                if (line.Length < 4 || line[3] != '-')
                {
                    return string.Join("\r\n", lines);
                }

                continue;
            }

            var read = await _stream.ReadAsync(_buffer, timeout.Token);
            if (read == 0)
            {
                throw new IOException("connection closed; pending: " + string.Join("|", lines) + _pending);
            }

            _pending.Append(Encoding.UTF8.GetString(_buffer, 0, read));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
