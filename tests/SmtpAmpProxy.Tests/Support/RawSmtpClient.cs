using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>A deliberately dumb client: writes exactly the bytes a test gives and reads whole replies.</summary>
internal sealed class RawSmtpClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[8192];
    private readonly StringBuilder _pending = new();

    private RawSmtpClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <param name="firstBytes">Sent before the greeting is read, as a load balancer sends a PROXY header.</param>
    public static async Task<(RawSmtpClient Client, string Greeting)> ConnectAsync(IPEndPoint endPoint, string? firstBytes = null)
    {
        var tcp = new TcpClient(endPoint.AddressFamily) { NoDelay = true };
        await tcp.ConnectAsync(endPoint, TestContext.Current.CancellationToken);
        var client = new RawSmtpClient(tcp);
        if (firstBytes is not null)
        {
            await client.SendAsync(Encoding.ASCII.GetBytes(firstBytes));
        }

        return (client, await client.ReadReplyAsync());
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes, TestContext.Current.CancellationToken);

    public async Task<string> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>Reads one reply, all its lines, e.g. "250-a\r\n250 b"; throws when the server closes first.</summary>
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

    /// <summary>The EHLO, MAIL, RCPT, DATA exchange; returns the reply after the data.</summary>
    public async Task<string> SendMessageAsync(string from, IEnumerable<string> to, byte[] dotStuffedData)
    {
        Assert.StartsWith("250", await CommandAsync("EHLO client.test"));
        var mail = await CommandAsync($"MAIL FROM:<{from}>");
        if (!mail.StartsWith('2'))
        {
            return mail;
        }

        foreach (var rcpt in to)
        {
            var reply = await CommandAsync($"RCPT TO:<{rcpt}>");
            if (!reply.StartsWith('2'))
            {
                return reply;
            }
        }

        Assert.StartsWith("354", await CommandAsync("DATA"));
        await SendAsync(dotStuffedData);
        await SendAsync("\r\n.\r\n"u8.ToArray());
        return await ReadReplyAsync();
    }

    /// <summary>DATA, the dot-stuffed message and its end; returns the reply after the data.</summary>
    public async Task<string> SendDataAsync(byte[] dotStuffedData)
    {
        Assert.StartsWith("354", await CommandAsync("DATA"));
        await SendAsync(dotStuffedData);
        await SendAsync("\r\n.\r\n"u8.ToArray());
        return await ReadReplyAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
