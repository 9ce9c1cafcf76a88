using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>Listeners and the SMTP sessions they accept.</summary>
public sealed partial class SmtpServer : IAsyncDisposable
{
    private const int ListenBacklog = 512;

    /// <summary>Time for aborted sessions to say 421 before their sockets are closed under them.</summary>
    private static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(5);

    private readonly SmtpServerOptions _options;
    private readonly SmtpServerContext _context;
    private readonly ILogger _logger;
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly List<IPEndPoint> _bound = [];
    private readonly ConcurrentDictionary<long, (SmtpSession Session, Task Run)> _sessions = new();
    private readonly Dictionary<IPAddress, int> _perIp = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private long _nextSessionId;
    private int _admitted;
    private bool _started;
    private bool _stopped;

    public SmtpServer(SmtpServerOptions options, ISmtpSessionHandlerFactory handlers, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handlers);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options;
        _logger = loggerFactory.CreateLogger("SmtpAmpProxy.Smtp.Server");
        _context = new SmtpServerContext(options, handlers, _logger, time ?? TimeProvider.System);
    }

    /// <summary>Actual endpoints, port 0 resolved; empty until <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndPoints
    {
        get
        {
            lock (_gate)
            {
                return [.. _bound];
            }
        }
    }

    public int ActiveSessions => _sessions.Count;

    /// <summary>The folder large messages spill to; readiness asks it whether it can still be written.</summary>
    public SpillFolder Spill => _context.Spill;

    /// <summary>Binds every listener (all or none) and starts accepting.</summary>
    public Task StartAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (_started)
        {
            throw new InvalidOperationException("The SMTP server was already started.");
        }

        if (_options.Listeners.Count == 0)
        {
            throw new InvalidOperationException("SmtpServerOptions.Listeners is empty: nothing to listen on.");
        }

        foreach (var listener in _options.Listeners)
        {
            if (listener.Tls == TlsMode.Implicit && _options.Certificate is null)
            {
                throw new InvalidOperationException($"Listener {listener.EndPoint} uses implicit TLS but no certificate is configured.");
            }
        }

        _started = true;
        SweepSpillFolder();
        var sockets = new List<(Socket Socket, SmtpListenerOptions Options)>();
        try
        {
            foreach (var listener in _options.Listeners)
            {
                var socket = new Socket(listener.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add((socket, listener));
                if (listener.EndPoint.AddressFamily == AddressFamily.InterNetworkV6 && listener.EndPoint.Address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }

                socket.Bind(listener.EndPoint);
                socket.Listen(ListenBacklog);
            }
        }
        catch
        {
            foreach (var (socket, _) in sockets)
            {
                socket.Dispose();
            }

            throw;
        }

        lock (_gate)
        {
            foreach (var (socket, listener) in sockets)
            {
                var endPoint = (IPEndPoint)socket.LocalEndPoint!;
                _listeners.Add(socket);
                _bound.Add(endPoint);
                ServerLog.ListenerStarted(_logger, endPoint, listener.Tls);
                _acceptLoops.Add(AcceptLoopAsync(socket, endPoint, listener.Tls, listener.ProxyProtocol));
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting, sends 421 4.3.2 to idle sessions, lets sessions inside a transaction finish it;
    /// when <paramref name="ct"/> fires, every remaining session gets 421 4.3.2 and is closed.
    /// </summary>
    public async Task StopAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
        }

        ServerLog.Stopping(_logger, _sessions.Count);
        await _stopping.CancelAsync();
        foreach (var socket in _listeners)
        {
            socket.Dispose();
        }

        await Task.WhenAll(_acceptLoops);
        await Task.WhenAll(_proxyHeaderReads.Values);
        foreach (var (session, _) in _sessions.Values)
        {
            session.RequestStop();
        }

        var running = _sessions.Values.Select(s => s.Run).ToArray();
        try
        {
            await Task.WhenAll(running).WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            foreach (var (session, _) in _sessions.Values)
            {
                session.Abort();
            }

            var all = Task.WhenAll(running);
            if (await Task.WhenAny(all, Task.Delay(AbortGrace, _context.Time)) != all)
            {
                foreach (var (session, _) in _sessions.Values)
                {
                    session.ForceClose();
                }
            }

            await all;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_started)
        {
            using var expired = new CancellationTokenSource();
            await expired.CancelAsync();
            await StopAsync(expired.Token);
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener, IPEndPoint endPoint, TlsMode tls, bool proxyProtocol)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (_stopping.IsCancellationRequested && ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // ECONNABORTED and friends: one failed accept must not stop the listener.
                ServerLog.AcceptFailed(_logger, endPoint, ex);
                continue;
            }

            try
            {
                if (proxyProtocol)
                {
                    AdmitAfterProxyHeader(socket, tls);
                }
                else
                {
                    Admit(socket, tls);
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
            {
                // A peer that reset between accept and admission must not stop the listener.
                ServerLog.AcceptFailed(_logger, endPoint, ex);
                socket.Dispose();
            }
        }
    }

    /// <param name="proxiedRemote">The client named by a PROXY header; null: the socket's peer.</param>
    private void Admit(Socket socket, TlsMode tls, IPEndPoint? proxiedRemote = null, bool clientAddressUnknown = false)
    {
        // Without NoDelay each small reply waits for the peer's delayed ACK (about 40 ms on Linux).
        socket.NoDelay = true;
        var remote = proxiedRemote ?? (IPEndPoint)socket.RemoteEndPoint!;
        var local = (IPEndPoint)socket.LocalEndPoint!;
        var client = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;

        // Everything that can throw comes before the connection is counted, so a failure leaks no count.
        var transport = new NetworkStream(socket, ownsSocket: true);
        string? refusal = null;
        lock (_gate)
        {
            _perIp.TryGetValue(client, out var fromClient);
            if (_admitted >= _options.MaxConnections)
            {
                refusal = $"too many connections ({_admitted})";
            }
            else if (fromClient >= _options.MaxConnectionsPerIp)
            {
                refusal = $"too many connections from {client} ({fromClient})";
            }
            else
            {
                _admitted++;
                _perIp[client] = fromClient + 1;
            }
        }

        var id = Interlocked.Increment(ref _nextSessionId);
        var info = new SmtpSessionInfo(id, remote, local)
        {
            ClientAddressUnknown = clientAddressUnknown,
            RelayByNetwork = _options.Access.ClientRelaysByNetwork(remote.Address, clientAddressUnknown),
        };
        var session = new SmtpSession(_context, transport, tls, info, refusal);
        // Registered before it runs, so the session's own removal can never precede its registration;
        // started on the thread pool, so a slow TLS handshake never delays the next accept.
        var start = new Task<Task>(() => RunSessionAsync(session, client, counted: refusal is null));
        _sessions[id] = (session, start.Unwrap());
        start.Start(TaskScheduler.Default);
    }

    private async Task RunSessionAsync(SmtpSession session, IPAddress client, bool counted)
    {
        try
        {
            await session.RunAsync();
        }
        finally
        {
            if (counted)
            {
                lock (_gate)
                {
                    _admitted--;
                    if (_perIp.TryGetValue(client, out var n) && n > 1)
                    {
                        _perIp[client] = n - 1;
                    }
                    else
                    {
                        _perIp.Remove(client);
                    }
                }
            }

            _sessions.TryRemove(session.Info.SessionId, out _);
        }
    }

    /// <summary>Spill files an older version left behind when it was killed (they kept their name until close).</summary>
    private void SweepSpillFolder()
    {
        try
        {
            var removed = _context.Spill.SweepStale();
            if (removed > 0)
            {
                ServerLog.StaleSpillFilesRemoved(_logger, removed, _context.Spill.Path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ServerLog.SpillSweepFailed(_logger, _context.Spill.Path, e.Message);
        }
    }
}
