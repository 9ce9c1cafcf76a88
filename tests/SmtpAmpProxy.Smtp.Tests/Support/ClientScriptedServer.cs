using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>
/// A fake upstream on 127.0.0.1: each accepted connection runs the same script, which says exactly what
/// the server sends and expects. Script failures are collected, so a test can assert the client's bytes.
/// </summary>
internal sealed class ClientScriptedServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<ClientScriptSession, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _sessions = [];
    private readonly List<ClientScriptSession> _open = [];
    private readonly Lock _lock = new();
    private readonly Task _acceptLoop;

    public ClientScriptedServer(Func<ClientScriptSession, Task> script, int port = 0)
    {
        _script = script;
        _listener = new TcpListener(IPAddress.Loopback, port);

        // Lets a "restarted" upstream bind the port its predecessor just left in TIME_WAIT.
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>A port free right now on 127.0.0.1 (bound to port 0, then released): a connection to it is refused.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public int Accepted { get; private set; }

    public List<Exception> Errors { get; } = [];

    public SmtpClientOptions Options(TlsMode tls = TlsMode.None) => new()
    {
        Host = "127.0.0.1",
        Port = Port,
        Tls = tls,
        CommandTimeout = TimeSpan.FromSeconds(20),
        DataTimeout = TimeSpan.FromSeconds(20),
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    /// <summary>Waits (bounded) until every session script so far has finished.</summary>
    public async Task WaitForSessionsAsync()
    {
        Task[] sessions;
        lock (_lock)
        {
            sessions = [.. _sessions];
        }

        await Task.WhenAll(sessions).WaitAsync(TimeSpan.FromSeconds(30));
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var session = new ClientScriptSession(client, _stop.Token);
            lock (_lock)
            {
                Accepted++;
                _open.Add(session);
                _sessions.Add(RunAsync(session));
            }
        }
    }

    private async Task RunAsync(ClientScriptSession session)
    {
        await Task.Yield();
        try
        {
            await _script(session);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the server is stopping: part of many scripts.
        }
        catch (Exception e)
        {
            lock (_lock)
            {
                Errors.Add(e);
            }
        }
        finally
        {
            session.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        _listener.Stop();
        ClientScriptSession[] open;
        lock (_lock)
        {
            open = [.. _open];
        }

        foreach (ClientScriptSession session in open)
        {
            session.Dispose();
        }

        await _acceptLoop;
        await WaitForSessionsAsync();
    }
}

internal sealed class ClientScriptSession : IDisposable
{
    private readonly TcpClient _client;
    private readonly MemoryStream _received = new();
    private Stream _stream;
    private byte[] _buffer = new byte[8192];
    private int _start;
    private int _end;

    public ClientScriptSession(TcpClient client, CancellationToken ct)
    {
        _client = client;
        _stream = client.GetStream();
        Token = ct;
    }

    public CancellationToken Token { get; }

    /// <summary>Every byte the client sent, as received (plaintext side of TLS).</summary>
    public byte[] Received => _received.ToArray();

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes, Token);
        await _stream.FlushAsync(Token);
    }

    /// <summary>The next line without its CRLF, or null at end of stream.</summary>
    public async Task<string?> ReadLineAsync()
    {
        while (true)
        {
            int lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                string line = Encoding.UTF8.GetString(_buffer, _start, lf - _start).TrimEnd('\r');
                _start = lf + 1;
                return line;
            }

            if (!await FillAsync())
            {
                return null;
            }
        }
    }

    /// <summary>Reads a line and fails the script unless it starts with <paramref name="prefix"/>.</summary>
    public async Task<string> ExpectAsync(string prefix)
    {
        string? line = await ReadLineAsync();
        if (line is null || !line.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Expected '{prefix}', got '{line ?? "<EOF>"}'.");
        }

        return line;
    }

    /// <summary>The raw DATA bytes up to and including CRLF "." CRLF, exactly as sent (still dot-stuffed).</summary>
    public async Task<byte[]> ReadDataAsync()
    {
        byte[] end = "\r\n.\r\n"u8.ToArray();
        var data = new MemoryStream();
        while (true)
        {
            while (_start < _end)
            {
                data.WriteByte(_buffer[_start++]);
                if (data.Length == 3 && data.ToArray().AsSpan().SequenceEqual(".\r\n"u8))
                {
                    return data.ToArray();
                }

                if (data.Length >= 5 && data.GetBuffer().AsSpan((int)data.Length - 5, 5).SequenceEqual(end))
                {
                    return data.ToArray();
                }
            }

            if (!await FillAsync())
            {
                throw new EndOfStreamException("The client closed during DATA.");
            }
        }
    }

    /// <summary>Reads whatever comes until the client closes.</summary>
    public async Task WaitForCloseAsync()
    {
        while (await FillAsync())
        {
            _start = _end;
        }
    }

    public async Task UpgradeToTlsAsync(X509Certificate2 certificate)
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, Token);
        _stream = ssl;
    }

    /// <summary>220 greeting, EHLO with the given extension lines.</summary>
    public async Task GreetAsync(params string[] extensions)
    {
        await SendAsync("220 upstream.test ESMTP ready\r\n");
        await EhloAsync(extensions);
    }

    /// <summary>Greeting, EHLO, then 250 to one MAIL and one RCPT: the opening most DATA tests share.</summary>
    public async Task GreetAndAcceptEnvelopeAsync()
    {
        await GreetAsync();
        await ExpectAsync("MAIL");
        await SendAsync("250 Ok\r\n");
        await ExpectAsync("RCPT");
        await SendAsync("250 Ok\r\n");
    }

    public async Task EhloAsync(params string[] extensions)
    {
        await ExpectAsync("EHLO ");
        var reply = new StringBuilder();
        reply.Append(extensions.Length == 0 ? "250 upstream.test\r\n" : "250-upstream.test\r\n");
        for (int i = 0; i < extensions.Length; i++)
        {
            reply.Append(i == extensions.Length - 1 ? "250 " : "250-").Append(extensions[i]).Append("\r\n");
        }

        await SendAsync(reply.ToString());
    }

    /// <summary>Answers MAIL, RCPTs, DATA and "." positively until QUIT or EOF; returns the messages' raw DATA bytes.</summary>
    public async Task<List<byte[]>> AcceptAllAsync(List<byte[]>? sink = null)
    {
        sink ??= [];
        while (await ReadLineAsync() is { } line)
        {
            string verb = line.Split(' ', ':')[0].ToUpperInvariant();
            switch (verb)
            {
                case "DATA":
                    await SendAsync("354 go ahead\r\n");
                    byte[] data = await ReadDataAsync();
                    lock (sink)
                    {
                        sink.Add(data);
                    }

                    await SendAsync("250 2.0.0 Ok: queued as Q" + sink.Count + "\r\n");
                    break;
                case "QUIT":
                    await SendAsync("221 2.0.0 Bye\r\n");
                    return sink;
                default:
                    await SendAsync("250 2.0.0 Ok\r\n");
                    break;
            }
        }

        return sink;
    }

    public void Close() => Dispose();

    private async Task<bool> FillAsync()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int n = await _stream.ReadAsync(_buffer.AsMemory(_end), Token);
        if (n == 0)
        {
            return false;
        }

        _received.Write(_buffer, _end, n);
        _end += n;
        return true;
    }

    public void Dispose()
    {
        try
        {
            _stream.Dispose();
        }
        catch (IOException)
        {
        }

        _client.Dispose();
    }
}
