using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SmtpAmpProxy.Tests.Faults;

/// <summary>What the scripted upstream does wrong; read afresh for every connection and command.</summary>
public enum UpstreamFault
{
    None,

    /// <summary>421 instead of the 220 greeting, then close (an upstream that is overloaded or shutting down).</summary>
    Banner421,

    /// <summary>Accepts the connection and never greets.</summary>
    SilentBanner,

    /// <summary>Never answers MAIL.</summary>
    SilentAtMail,

    /// <summary>452 to the DATA command itself.</summary>
    Data452AtCommand,

    /// <summary>Reads the whole message, then 452.</summary>
    Data452AtEnd,

    /// <summary>Closes the connection after the first line of content.</summary>
    DisconnectMidData,

    /// <summary>Reads the whole message and never answers.</summary>
    SilentAfterData,

    /// <summary>250 to the DATA command instead of 354: a broken upstream that took no message.</summary>
    Data250AtCommand,

    /// <summary>354 and a 250 in one packet, then 554 after the content: only the 554 answers the message.</summary>
    Data354And250InOnePacket,
}

/// <summary>
/// A small SMTP server that misbehaves on demand: the upstream faults a relay meets in the wild
/// (SendGrid throttling, a restart, a stalled network), one at a time, on 127.0.0.1. Recipients
/// beginning with "nobody" always get 550. It counts what it accepted, so a test can prove the
/// sender never heard 250 for a message that did not arrive. Recipients beginning with "drop" make it
/// close the connection. Senders beginning with "refused" get 550 to MAIL, "later" 451. Recipients
/// beginning with "fickle" are accepted the first time only (a replayed envelope answered differently). With <see cref="IdleLimit"/> it drops a connection that said nothing for that long, in
/// the virtual time of <see cref="Time"/>, as every MTA does after its own idle timeout.
/// </summary>
internal sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<(IReadOnlyList<string> Recipients, string Data)> _accepted = new();
    private readonly ConcurrentDictionary<int, Task> _connections = new();
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ConcurrentQueue<string> _contentLines = new();
    private readonly ConcurrentDictionary<string, int> _fickle = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private int _nextConnection;
    private int _open;
    private int _authAttempts;
    private int _idleDrops;

    private ScriptedUpstream(int port)
    {
        Port = port;
    }

    public int Port { get; }

    public volatile UpstreamFault Fault;

    /// <summary>Announce PIPELINING in the EHLO reply (read at each EHLO).</summary>
    public volatile bool OfferPipelining;

    /// <summary>Announce AUTH PLAIN LOGIN and refuse every login with 535, quoting what the client sent (some upstreams do).</summary>
    public volatile bool RefuseAuth;

    /// <summary>Extra EHLO keywords, e.g. "SIZE 10240000" or "SMTPUTF8".</summary>
    public volatile string[] ExtraExtensions = [];

    /// <summary>Closes a connection idle this long (virtual time of <see cref="Time"/>); null: never.</summary>
    public TimeSpan? IdleLimit;

    public TimeProvider Time = TimeProvider.System;

    /// <summary>AUTH commands received, on every connection.</summary>
    public int AuthAttempts => Volatile.Read(ref _authAttempts);

    /// <summary>Connections closed by <see cref="IdleLimit"/>.</summary>
    public int IdleDrops => Volatile.Read(ref _idleDrops);

    /// <summary>Connections accepted since the start.</summary>
    public int ConnectionsAccepted => Volatile.Read(ref _nextConnection);

    /// <summary>Every line received, on every connection, in order of arrival.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <summary>Every line of message content received, finished or not.</summary>
    public IReadOnlyList<string> ContentLines => [.. _contentLines];

    public IReadOnlyList<(IReadOnlyList<string> Recipients, string Data)> Accepted => [.. _accepted];

    /// <summary>Connections the upstream holds open right now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Listening on a fresh port.</summary>
    public static ScriptedUpstream Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var upstream = new ScriptedUpstream(((IPEndPoint)listener.LocalEndpoint).Port);
        upstream.Run(listener);
        return upstream;
    }

    /// <summary>A port that was free a moment ago and nobody listens on yet: connections are refused until <see cref="Listen"/>.</summary>
    public static ScriptedUpstream Reserve()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new ScriptedUpstream(port);
    }

    public void Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        Run(listener);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Stop();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }

        await Task.WhenAll(_connections.Values).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private void Run(TcpListener listener)
    {
        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener);
    }

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var id = Interlocked.Increment(ref _nextConnection);
            _connections[id] = ServeAsync(id, socket);
        }
    }

    private async Task ServeAsync(int id, Socket socket)
    {
        await Task.Yield();
        Interlocked.Increment(ref _open);
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            var connection = new Connection(stream, _stop.Token);
            await using var idle = IdleLimit is { } limit
                ? Time.CreateTimer(_ => { Interlocked.Increment(ref _idleDrops); socket.Close(); }, null, limit, Timeout.InfiniteTimeSpan)
                : null;
            if (idle is not null)
            {
                connection.OnLine = () => idle.Change(IdleLimit!.Value, Timeout.InfiniteTimeSpan);
            }

            await ConverseAsync(connection);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _open);
            _connections.TryRemove(id, out _);
        }
    }

    private async Task ConverseAsync(Connection connection)
    {
        switch (Fault)
        {
            case UpstreamFault.Banner421:
                await connection.WriteAsync("421 4.3.2 upstream.test Service not available, closing channel");
                return;
            case UpstreamFault.SilentBanner:
                await connection.DrainUntilClosedAsync();
                return;
        }

        await connection.WriteAsync("220 upstream.test ESMTP scripted");
        var recipients = new List<string>();
        while (await connection.ReadLineAsync() is { } line)
        {
            _lines.Enqueue(line);
            var verb = (line.Length >= 4 ? line[..4] : line).ToUpperInvariant();
            switch (verb)
            {
                case "EHLO":
                    var keywords = new List<string> { "upstream.test" };
                    if (OfferPipelining)
                    {
                        keywords.Add("PIPELINING");
                    }

                    if (RefuseAuth)
                    {
                        keywords.Add("AUTH PLAIN LOGIN");
                    }

                    keywords.AddRange(ExtraExtensions);
                    keywords.Add("8BITMIME");
                    keywords.Add("ENHANCEDSTATUSCODES");
                    await connection.WriteAsync(string.Join("\r\n", keywords.Select((k, i) => (i == keywords.Count - 1 ? "250 " : "250-") + k)));
                    break;
                case "AUTH":
                    Interlocked.Increment(ref _authAttempts);
                    await connection.WriteAsync($"535 5.7.8 Authentication failed: bad credentials {line[5..]}");
                    break;
                case "HELO":
                    await connection.WriteAsync("250 upstream.test");
                    break;
                case "MAIL":
                    if (Fault == UpstreamFault.SilentAtMail)
                    {
                        await connection.DrainUntilClosedAsync();
                        return;
                    }

                    recipients.Clear();
                    var sender = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim().TrimStart('<');
                    if (sender.StartsWith("refused", StringComparison.Ordinal))
                    {
                        await connection.WriteAsync("550 5.7.1 Sender address rejected: not a verified sender");
                    }
                    else if (sender.StartsWith("later", StringComparison.Ordinal))
                    {
                        await connection.WriteAsync("451 4.7.1 Sender address rejected: try again later");
                    }
                    else
                    {
                        await connection.WriteAsync("250 2.1.0 Ok");
                    }

                    break;
                case "RCPT":
                    var address = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim().Trim('<', '>');
                    if (address.StartsWith("drop", StringComparison.Ordinal))
                    {
                        // The upstream goes away in the middle of the recipient list.
                        return;
                    }

                    if (address.StartsWith("nobody", StringComparison.Ordinal) || (address.StartsWith("fickle", StringComparison.Ordinal) && _fickle.AddOrUpdate(address, 1, (_, n) => n + 1) > 1))
                    {
                        await connection.WriteAsync($"550 5.1.1 <{address}>: Recipient address rejected: User unknown");
                    }
                    else
                    {
                        recipients.Add(address);
                        await connection.WriteAsync("250 2.1.5 Ok");
                    }

                    break;
                case "DATA":
                    if (Fault == UpstreamFault.Data250AtCommand)
                    {
                        await connection.WriteAsync("250 2.0.0 Ok");
                        break;
                    }

                    if (Fault == UpstreamFault.Data452AtCommand)
                    {
                        await connection.WriteAsync("452 4.3.1 Insufficient system storage");
                        break;
                    }

                    await connection.WriteAsync(Fault == UpstreamFault.Data354And250InOnePacket
                        ? "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued early"
                        : "354 End data with <CR><LF>.<CR><LF>");
                    var data = new StringBuilder();
                    var ended = false;
                    while (await connection.ReadLineAsync() is { } content)
                    {
                        if (content == ".")
                        {
                            ended = true;
                            break;
                        }

                        if (Fault == UpstreamFault.DisconnectMidData)
                        {
                            return;
                        }

                        _contentLines.Enqueue(content);
                        data.Append(content).Append("\r\n");
                    }

                    if (!ended)
                    {
                        // The client closed inside DATA: an SMTP server discards the unfinished message.
                        return;
                    }

                    switch (Fault)
                    {
                        case UpstreamFault.Data452AtEnd:
                            await connection.WriteAsync("452 4.3.1 Insufficient system storage");
                            break;
                        case UpstreamFault.SilentAfterData:
                            await connection.DrainUntilClosedAsync();
                            return;
                        case UpstreamFault.Data354And250InOnePacket:
                            await connection.WriteAsync("554 5.7.1 Message refused after all");
                            break;
                        default:
                            _accepted.Enqueue(([.. recipients], data.ToString()));
                            await connection.WriteAsync($"250 2.0.0 Ok: queued as UP{_accepted.Count}");
                            break;
                    }

                    recipients.Clear();
                    break;
                case "RSET":
                    recipients.Clear();
                    await connection.WriteAsync("250 2.0.0 Ok");
                    break;
                case "NOOP":
                    await connection.WriteAsync("250 2.0.0 Ok");
                    break;
                case "QUIT":
                    await connection.WriteAsync("221 2.0.0 Bye");
                    return;
                default:
                    await connection.WriteAsync("502 5.5.2 Error: command not recognized");
                    break;
            }
        }
    }

    /// <summary>Line I/O over one socket; lines are Latin-1 so every byte survives.</summary>
    private sealed class Connection(NetworkStream stream, CancellationToken stop)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private readonly StringBuilder _pending = new();

        /// <summary>Called for every line received (the idle clock restarts).</summary>
        public Action? OnLine { get; set; }

        public async Task WriteAsync(string reply) =>
            await stream.WriteAsync(Encoding.Latin1.GetBytes(reply + "\r\n"), stop);

        /// <summary>The next line without its CRLF; null when the peer closed.</summary>
        public async Task<string?> ReadLineAsync()
        {
            while (true)
            {
                for (var i = 0; i < _pending.Length; i++)
                {
                    if (_pending[i] == '\n')
                    {
                        var line = _pending.ToString(0, i).TrimEnd('\r');
                        _pending.Remove(0, i + 1);
                        OnLine?.Invoke();
                        return line;
                    }
                }

                var read = await stream.ReadAsync(_buffer, stop);
                if (read == 0)
                {
                    return null;
                }

                _pending.Append(Encoding.Latin1.GetString(_buffer, 0, read));
            }
        }

        /// <summary>Says nothing more, reads and ignores whatever comes, until the peer gives up and closes.</summary>
        public async Task DrainUntilClosedAsync()
        {
            while (await stream.ReadAsync(_buffer, stop) > 0)
            {
            }
        }
    }
}
