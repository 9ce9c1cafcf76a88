using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server.ProxyProtocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// Listeners behind a TCP load balancer (HAProxy, AWS NLB, Kubernetes) see the balancer's address on every
/// socket; the PROXY header it sends first names the real client, which then drives relay access, the per-IP
/// limit, the Received: field and the logs. The header is read before the session exists (so before the
/// greeting and before an implicit TLS handshake), only from trusted balancers, and within a deadline.
/// </summary>
public sealed partial class SmtpServer
{
    private readonly ConcurrentDictionary<long, Task> _proxyHeaderReads = new();
    private long _nextProxyHeaderRead;

    private void AdmitAfterProxyHeader(Socket socket, TlsMode tls)
    {
        var peer = (IPEndPoint)socket.RemoteEndPoint!;
        if (!_options.Access.TrustsProxyHeaderFrom(peer.Address))
        {
            // Anyone else could name any address in a header, and so pass the relay check as a trusted network.
            ProxyProtocolLog.Untrusted(_logger, peer);
            socket.Dispose();
            return;
        }

        // Registered before it runs (as sessions are), so StopAsync sees every read that may still admit a session.
        var id = Interlocked.Increment(ref _nextProxyHeaderRead);
        var start = new Task<Task>(() => ReadProxyHeaderAsync(socket, peer, tls, id));
        _proxyHeaderReads[id] = start.Unwrap();
        start.Start(TaskScheduler.Default);
    }

    private async Task ReadProxyHeaderAsync(Socket socket, IPEndPoint peer, TlsMode tls, long id)
    {
        var admitted = false;
        using var deadline = new CancellationTokenSource(_options.ProxyProtocolTimeout, _context.Time);
        using var read = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, _stopping.Token);
        try
        {
            var header = await ProxyHeaderReader.ReadAsync(socket, read.Token);
            if (header is not { } parsed)
            {
                ProxyProtocolLog.ClosedBeforeHeader(_logger, peer);
                return;
            }

            // LOCAL (a balancer's health check) and headers without an address keep the socket's peer.
            var client = parsed.Command == ProxyCommand.Proxy ? parsed.Source : null;
            ProxyProtocolLog.HeaderAccepted(_logger, parsed.Version, parsed.Command, peer, client ?? peer);
            Admit(socket, tls, client, clientAddressUnknown: parsed.Command == ProxyCommand.Proxy && client is null);
            admitted = true;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !_stopping.IsCancellationRequested)
        {
            ProxyProtocolLog.HeaderTimeout(_logger, peer, _options.ProxyProtocolTimeout);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Shutting down: a connection that has not even said who it is gets no greeting.
        }
        catch (ProxyProtocolException ex)
        {
            ProxyProtocolLog.HeaderMalformed(_logger, peer, ex.Error, ex.Message);
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
        {
            ProxyProtocolLog.ClosedBeforeHeader(_logger, peer);
        }
        finally
        {
            if (!admitted)
            {
                socket.Dispose();
            }

            _proxyHeaderReads.TryRemove(id, out _);
        }
    }
}
