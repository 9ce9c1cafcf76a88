using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MailKit.Security;
using MimeKit;
using SmtpServer;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using Kit = MailKit.Net.Smtp;

// The relay the design card describes, for bench/relay.sh's "card" path: SmtpServer's listener,
// MimeKit's parser with the same AMP order rules, MailKit's client from a pool, TCP NoDelay set on
// both sides (neither library sets it; without it each message waits ~40 ms for a delayed ACK).
// usage: SmtpAmpProxy.CardRelay LISTEN_PORT UPSTREAM_PORT [POOL_SIZE]
var listenPort = int.Parse(args[0], CultureInfo.InvariantCulture);
var upstreamPort = int.Parse(args[1], CultureInfo.InvariantCulture);
var poolSize = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;

var options = new SmtpServerOptionsBuilder()
    .ServerName("card.bench")
    .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, listenPort)))
    .MaxMessageSize(64 * 1024 * 1024)
    .Build();
var services = new SmtpServer.ComponentModel.ServiceProvider();
services.Add(new CardStore(new UpstreamPool(upstreamPort, poolSize)));
services.Add(new NoDelayListenerFactory());
var server = new SmtpServer.SmtpServer(options, services);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
try
{
    await server.StartAsync(stop.Token);
}
catch (OperationCanceledException)
{
}

/// <summary>SmtpServer's own listener, but every accepted socket gets TCP_NODELAY (plain text only: no STARTTLS on this path).</summary>
internal sealed class NoDelayListenerFactory : IEndpointListenerFactory
{
    public IEndpointListener CreateListener(IEndpointDefinition endpointDefinition)
    {
        var listener = new TcpListener(endpointDefinition.Endpoint);
        listener.Start(1024);
        return new NoDelayListener(listener);
    }
}

internal sealed class NoDelayListener(TcpListener listener) : IEndpointListener
{
    public async Task<SmtpServer.IO.ISecurableDuplexPipe> GetPipeAsync(ISessionContext context, CancellationToken cancellationToken)
    {
        var socket = await listener.AcceptSocketAsync(cancellationToken);
        socket.NoDelay = true;
        context.Properties[EndpointListener.LocalEndPointKey] = socket.LocalEndPoint!;
        context.Properties[EndpointListener.RemoteEndPointKey] = socket.RemoteEndPoint!;
        return new PlainPipe(new NetworkStream(socket, ownsSocket: true));
    }

    public void Dispose() => listener.Stop();
}

internal sealed class PlainPipe(Stream stream) : SmtpServer.IO.ISecurableDuplexPipe
{
    public System.IO.Pipelines.PipeReader Input { get; } = System.IO.Pipelines.PipeReader.Create(stream);

    public System.IO.Pipelines.PipeWriter Output { get; } = System.IO.Pipelines.PipeWriter.Create(stream);

    public bool IsSecure => false;

    public System.Security.Authentication.SslProtocols SslProtocol => System.Security.Authentication.SslProtocols.None;

    public Task UpgradeAsync(System.Security.Cryptography.X509Certificates.X509Certificate certificate, System.Security.Authentication.SslProtocols protocols, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the card path benchmarks plain SMTP");

    public void Dispose() => stream.Dispose();
}

/// <summary>Connected MailKit clients, NoDelay on their sockets, at most <c>size</c> at a time.</summary>
internal sealed class UpstreamPool(int port, int size)
{
    private readonly ConcurrentBag<Kit.SmtpClient> _idle = [];
    private readonly SemaphoreSlim _slots = new(size, size);

    public async Task<string> SendAsync(MimeMessage message, MailboxAddress from, IEnumerable<MailboxAddress> to, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        Kit.SmtpClient? client = null;
        try
        {
            if (!_idle.TryTake(out client) || !client.IsConnected)
            {
                client?.Dispose();
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                client = new Kit.SmtpClient();
                await client.ConnectAsync(socket, "127.0.0.1", port, SecureSocketOptions.None, cancellationToken);
            }

            var reply = await client.SendAsync(message, from, to, cancellationToken);
            _idle.Add(client);
            client = null;
            return reply;
        }
        finally
        {
            client?.Dispose();
            _slots.Release();
        }
    }
}

internal sealed class CardStore(UpstreamPool pool) : MessageStore
{
    public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        // SmtpServer hands over the whole message in memory; it goes to MimeKit as a stream, as SmtpServer's own sample store does.
        var message = await MimeMessage.LoadAsync(new MemoryStream(buffer.ToArray(), writable: false), cancellationToken);
        if (AmpRules.Apply(message.Body) is { } reject)
        {
            return new SmtpResponse(SmtpReplyCode.TransactionFailed, reject);
        }

        try
        {
            var from = new MailboxAddress("", $"{transaction.From.User}@{transaction.From.Host}");
            var to = transaction.To.Select(m => new MailboxAddress("", $"{m.User}@{m.Host}")).ToList();
            await pool.SendAsync(message, from, to, cancellationToken);
            return SmtpResponse.Ok;
        }
        catch (Exception e) when (e is IOException or SocketException or MailKit.ProtocolException or MailKit.CommandException)
        {
            return new SmtpResponse(SmtpReplyCode.ServiceUnavailable, "4.4.2 upstream lost");
        }
    }
}

/// <summary>The design's AMP rules on MimeKit's tree: misplaced and no-fallback refuse; duplicates go; order is repaired.</summary>
internal static class AmpRules
{
    public static string? Apply(MimeEntity? entity)
    {
        if (entity is not Multipart multipart || entity.ContentType.IsMimeType("multipart", "signed") || entity.ContentType.IsMimeType("multipart", "encrypted"))
        {
            return null;
        }

        var isAlternative = entity.ContentType.IsMimeType("multipart", "alternative");
        if (!isAlternative && multipart.Any(IsAmp))
        {
            return "5.6.0 amp-misplaced: an AMP part outside multipart/alternative";
        }

        if (isAlternative && multipart.Any(IsAmp))
        {
            if (!multipart.Any(c => IsHtmlBearing(c) || c.ContentType.IsMimeType("text", "plain")))
            {
                return "5.6.0 amp-no-fallback: an alternative with AMP but no plain or HTML part";
            }

            var amp = multipart.First(IsAmp);
            foreach (var duplicate in multipart.Where(IsAmp).Skip(1).ToList())
            {
                multipart.Remove(duplicate);
            }

            var ampIndex = multipart.IndexOf(amp);
            var firstHtml = multipart.ToList().FindIndex(IsHtmlBearing);
            if (firstHtml >= 0 && ampIndex > firstHtml)
            {
                multipart.RemoveAt(ampIndex);
                multipart.Insert(firstHtml, amp);
            }
            else if (firstHtml < 0 && ampIndex == multipart.Count - 1 && multipart.Count > 1)
            {
                multipart.RemoveAt(ampIndex);
                multipart.Insert(multipart.Count - 1, amp);
            }
        }

        foreach (var child in multipart)
        {
            if (Apply(child) is { } reject)
            {
                return reject;
            }
        }

        return null;
    }

    private static bool IsAmp(MimeEntity e) => e.ContentType.IsMimeType("text", "x-amp-html");

    private static bool IsHtmlBearing(MimeEntity e) =>
        e.ContentType.IsMimeType("text", "html")
        || (e is Multipart { Count: > 0 } related && e.ContentType.IsMimeType("multipart", "related") && related[0].ContentType.IsMimeType("text", "html"));
}
