using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>
/// One SMTP session to the upstream (RFC 5321 client side with STARTTLS, AUTH, PIPELINING): a command and
/// reply pipe. It does not know where a mail transaction stands; its user does (the relay's transaction).
/// Not thread-safe: the pool never hands a connection out twice. Refused commands come back as replies;
/// only a lost, unintelligible or mis-framed connection throws <see cref="SmtpConnectionException"/>,
/// after which <see cref="IsBroken"/> is true. Framing is strict: bytes waiting after the greeting, after
/// a 354, or after the last reply an exchange expects mean replies could be attributed to the wrong
/// command, so the connection is broken rather than read on.
/// </summary>
public sealed class SmtpClientConnection : IAsyncDisposable
{
    // 64 KB: four full TLS records per write, few syscalls for a typical 50–500 KB message, and the
    // buffer comes from the shared pool so nothing per message is allocated.
    private const int DataChunkBytes = 65536;

    private static long s_nextId;

    private readonly SmtpClientOptions _options;
    private readonly ClientTls _tls;
    private readonly ILogger _logger;
    private Socket? _socket;
    private Stream? _stream;
    private ReplyReader? _reader;
    private EhloExtensions _extensions = EhloExtensions.None;
    private bool _ready;
    private bool _disposed;

    private SmtpClientConnection(SmtpClientOptions options, ClientTls tls, ILogger logger)
    {
        _options = options;
        _tls = tls;
        _logger = logger;
        Id = Interlocked.Increment(ref s_nextId);
    }

    /// <summary>Any <see cref="SmtpConnectionException"/> happened (or a 421 reply): never reuse.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>Messages accepted by the upstream on the current session.</summary>
    public int MessagesSent { get; private set; }

    /// <summary>EHLO keywords, upper-case (PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ...), from the last EHLO.</summary>
    public IReadOnlySet<string> Extensions => _extensions.Keywords;

    public bool IsTls { get; private set; }

    /// <summary>The value of the SIZE extension (RFC 1870), or null when not announced or unlimited.</summary>
    public long? MaxMessageSize =>
        long.TryParse(_extensions.Parameters("SIZE"), out long size) && size > 0 ? size : null;

    internal long Id { get; }

    // Pool bookkeeping, touched only by SmtpConnectionPool.
    internal long IdleSince { get; set; }

    public static Task<SmtpClientConnection> ConnectAsync(SmtpClientOptions options, CancellationToken ct) =>
        ConnectAsync(options, NullLogger.Instance, ct);

    public static Task<SmtpClientConnection> ConnectAsync(SmtpClientOptions options, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        Validate(options);
        return ConnectAsync(options, ClientTls.Create(options, logger), logger, ct);
    }

    internal static async Task<SmtpClientConnection> ConnectAsync(SmtpClientOptions options, ClientTls tls, ILogger logger, CancellationToken ct)
    {
        var connection = new SmtpClientConnection(options, tls, logger);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        return connection;
    }

    internal static void Validate(SmtpClientOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Host))
        {
            throw new ArgumentException("The upstream host is not set.", nameof(options));
        }

        if (options.Port is <= 0 or > 65535)
        {
            throw new ArgumentException($"The upstream port {options.Port} is out of range.", nameof(options));
        }

        if (options.Username is not null && options.Password is null)
        {
            throw new ArgumentException("A user name is set for the upstream but no password.", nameof(options));
        }
    }

    public Task<SmtpReply> MailAsync(string reversePath, string? parameters, CancellationToken ct) =>
        ExchangeAsync(ClientCommands.Mail(reversePath, parameters), null, SmtpFailureStage.Command, ct);

    public Task<SmtpReply> RcptAsync(string forwardPath, string? parameters, CancellationToken ct) =>
        ExchangeAsync(ClientCommands.Rcpt(forwardPath, parameters), null, SmtpFailureStage.Command, ct);

    /// <summary>
    /// Sends DATA without waiting for its reply, so the upstream's 354 travels while the sender is still
    /// sending the message; <see cref="ReadDataReplyAsync"/> reads it later (RFC 5321 4.1.1.4: no content
    /// before the 354). Until then the session is inside DATA: only closing it ends that without a message.
    /// </summary>
    public async Task WriteDataAsync(CancellationToken ct)
    {
        EnsureUsable();
        Trace(ClientCommands.Data, null);
        await WriteAsync(ClientCommands.Data, SmtpFailureStage.Command, ct).ConfigureAwait(false);
    }

    /// <summary>The reply to a DATA sent by <see cref="WriteDataAsync"/>; after a 354 nothing else may be waiting.</summary>
    public async Task<SmtpReply> ReadDataReplyAsync(CancellationToken ct)
    {
        EnsureUsable();
        SmtpReply reply = await ReadAsync(SmtpFailureStage.Command, _options.CommandTimeout, ct).ConfigureAwait(false);
        EnsureNothingWaiting(SmtpFailureStage.Data, reply);
        return reply;
    }

    /// <summary>The message content after a 354: dot-stuffed afresh, terminated, and the final reply.</summary>
    public async Task<SmtpReply> SendContentAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(content);
        EnsureUsable();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DataChunkBytes);
        try
        {
            var encoder = new DataEncoder();
            int filled = 0;
            for (int s = 0; s < content.Count; s++)
            {
                ReadOnlyMemory<byte> segment = content[s];
                while (!segment.IsEmpty)
                {
                    encoder.Encode(segment.Span, buffer.AsSpan(filled), out int consumed, out int written);
                    segment = segment[consumed..];
                    filled += written;
                    if (buffer.Length - filled < 2)
                    {
                        await WriteAsync(buffer.AsMemory(0, filled), SmtpFailureStage.Data, ct).ConfigureAwait(false);
                        filled = 0;
                    }
                }
            }

            if (buffer.Length - filled < DataEncoder.MaxTrailerBytes)
            {
                await WriteAsync(buffer.AsMemory(0, filled), SmtpFailureStage.Data, ct).ConfigureAwait(false);
                filled = 0;
            }

            filled += encoder.Complete(buffer.AsSpan(filled));
            await WriteAsync(buffer.AsMemory(0, filled), SmtpFailureStage.Data, ct).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        Trace("<message content>");
        SmtpReply reply = await ReadAsync(SmtpFailureStage.Data, _options.DataTimeout, ct).ConfigureAwait(false);
        EnsureNothingWaiting(SmtpFailureStage.Data, reply);
        if (reply.IsPositive)
        {
            MessagesSent++;
        }

        return reply;
    }

    public Task<SmtpReply> RsetAsync(CancellationToken ct) =>
        ExchangeAsync(ClientCommands.Rset, null, SmtpFailureStage.Command, ct);

    /// <summary>NOOP (RFC 5321 4.1.1.9): proves the session is alive.</summary>
    public Task<SmtpReply> NoopAsync(CancellationToken ct) =>
        ExchangeAsync(ClientCommands.Noop, null, SmtpFailureStage.Command, ct);

    /// <summary>
    /// MAIL, every RCPT and, when <paramref name="withData"/>, DATA: in one write when the upstream offers
    /// PIPELINING (RFC 2920 3.1, DATA last in the group), else one command at a time. One reply per command
    /// sent; without PIPELINING nothing follows a refused MAIL, and DATA follows only an accepted RCPT.
    /// With <paramref name="withData"/> a 354 leaves the session inside DATA, ready for <see cref="SendContentAsync"/>.
    /// </summary>
    public async Task<SmtpEnvelopeReplies> SendEnvelopeAsync(string reversePath, string? mailParameters, IReadOnlyList<SmtpRecipient> recipients, bool withData, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(recipients);

        // Build every command first: an argument that fails validation must fail before anything is sent.
        byte[] mailCommand = ClientCommands.Mail(reversePath, mailParameters);
        var rcptCommands = new byte[recipients.Count][];
        for (int i = 0; i < rcptCommands.Length; i++)
        {
            rcptCommands[i] = ClientCommands.Rcpt(recipients[i].Path, recipients[i].Parameters);
        }

        if (!_extensions.Has("PIPELINING"))
        {
            SmtpReply mail = await ExchangeAsync(mailCommand, null, SmtpFailureStage.Command, ct).ConfigureAwait(false);
            if (!mail.IsPositive)
            {
                return new SmtpEnvelopeReplies(mail, [], null);
            }

            var rcpts = new SmtpReply[rcptCommands.Length];
            for (int i = 0; i < rcptCommands.Length; i++)
            {
                rcpts[i] = await ExchangeAsync(rcptCommands[i], null, SmtpFailureStage.Command, ct).ConfigureAwait(false);
            }

            SmtpReply? data = withData && rcpts.Any(r => r.IsPositive)
                ? await ExchangeAsync(ClientCommands.Data, null, SmtpFailureStage.Command, ct).ConfigureAwait(false)
                : null;
            return new SmtpEnvelopeReplies(mail, rcpts, data);
        }

        byte[] group = Join(mailCommand, rcptCommands, withData ? ClientCommands.Data : null);
        SmtpReply[] replies = await ExchangeManyAsync(group, rcptCommands.Length + (withData ? 2 : 1), ct).ConfigureAwait(false);

        // After a refused MAIL the RCPT replies (503 "need MAIL") say nothing about the recipients.
        return new SmtpEnvelopeReplies(replies[0], replies[0].IsPositive ? replies[1..(rcptCommands.Length + 1)] : [], withData ? replies[^1] : null);
    }

    /// <summary>QUIT and close. Never throws for a connection that is already gone.</summary>
    public async Task QuitAsync(CancellationToken ct)
    {
        if (_stream is not null && !IsBroken && !_disposed)
        {
            try
            {
                await ExchangeAsync(ClientCommands.Quit, null, SmtpFailureStage.Command, ct).ConfigureAwait(false);
            }
            catch (SmtpConnectionException)
            {
                // Closing anyway: a failed QUIT changes nothing for anybody.
            }
        }

        ClientLog.Closed(_logger, Id, MessagesSent);
        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        IsBroken = true;
        await CloseTransportAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// True when an idle session shows no sign of having been closed: nothing readable on the socket.
    /// An idle SMTP session has nothing to say; readable means EOF, a reset, or an unsolicited
    /// "421 timeout" before the close — in every case the session is gone. Does not block.
    /// </summary>
    internal bool LooksAliveWhileIdle(out string reason)
    {
        reason = "";
        if (IsBroken || _socket is null || _reader is null)
        {
            reason = "broken";
            return false;
        }

        try
        {
            // One poll(2) per rent: EOF, a reset and pending bytes all make a TCP socket readable on Linux
            // (tcp_poll), so separate FIONREAD and error probes only added two syscalls per message.
            if (_reader.Buffered > 0 || _socket.Poll(0, SelectMode.SelectRead))
            {
                reason = "closed or unsolicited data";
                return false;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            reason = e.Message;
            return false;
        }

        return true;
    }

    private async Task OpenAsync(CancellationToken ct)
    {
        ClientLog.Connecting(_logger, Id, _options.Host, _options.Port, _options.Tls);
        try
        {
            await ConnectSocketAsync(ct).ConfigureAwait(false);
            if (_options.Tls == TlsMode.Implicit)
            {
                await StartTlsAsync(ct).ConfigureAwait(false);
            }

            SmtpReply greeting = await ReadAsync(SmtpFailureStage.Greeting, _options.CommandTimeout, ct).ConfigureAwait(false);
            if (greeting.Code != 220)
            {
                throw new SmtpConnectionException(SmtpFailureStage.Greeting, $"The upstream refused the session: {greeting}", reply: greeting);
            }

            EnsureNothingWaiting(SmtpFailureStage.Greeting, greeting);

            await HelloAsync(ct).ConfigureAwait(false);
            if (_options.Tls == TlsMode.StartTls)
            {
                if (!_extensions.Has("STARTTLS"))
                {
                    // TLS is required to the upstream: going on in plaintext would hand the API key to anyone on the path.
                    throw new SmtpConnectionException(SmtpFailureStage.Tls, "The upstream does not offer STARTTLS.");
                }

                SmtpReply reply = await ExchangeAsync(ClientCommands.StartTls, null, SmtpFailureStage.Tls, ct).ConfigureAwait(false);
                if (reply.Code != 220)
                {
                    throw new SmtpConnectionException(SmtpFailureStage.Tls, $"The upstream refused STARTTLS: {reply}", reply: reply);
                }

                // RFC 3207 6 / CVE-2011-0411: bytes after the 220 were sent in plaintext before the handshake
                // and would be read as if they came through TLS. A server does not do that; an attacker does.
                if (_reader!.Buffered > 0)
                {
                    throw new SmtpConnectionException(SmtpFailureStage.Tls, "The upstream sent data after its STARTTLS reply.");
                }

                await StartTlsAsync(ct).ConfigureAwait(false);
                await HelloAsync(ct).ConfigureAwait(false);
            }

            if (_options.Username is not null)
            {
                await AuthenticateAsync(_options.Username, _options.Password ?? "", ct).ConfigureAwait(false);
            }
        }
        catch (SmtpConnectionException e)
        {
            IsBroken = true;
            ClientLog.ConnectFailed(_logger, Id, _options.Host, _options.Port, e.Stage, e.IsTimeout, e.Message);
            await CloseTransportAsync().ConfigureAwait(false);
            throw;
        }
        catch
        {
            IsBroken = true;
            await CloseTransportAsync().ConfigureAwait(false);
            throw;
        }

        _ready = true;
        ClientLog.Ready(_logger, Id, _stream is SslStream ssl ? ssl.SslProtocol.ToString() : "none", string.Join(' ', _extensions.Keywords));
    }

    private async Task ConnectSocketAsync(CancellationToken ct)
    {
        using var timeout = Timeout(_options.ConnectTimeout, ct);
        Socket? connected = null;
        try
        {
            IPAddress[] addresses = IPAddress.TryParse(_options.Host, out IPAddress? literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(_options.Host, timeout.Token).ConfigureAwait(false);
            Exception? last = null;
            foreach (IPAddress address in addresses)
            {
                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(address, _options.Port), timeout.Token).ConfigureAwait(false);
                    connected = socket;
                    break;
                }
                catch (SocketException e)
                {
                    socket.Dispose();
                    last = e;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }

            if (connected is null)
            {
                throw new SmtpConnectionException(
                    SmtpFailureStage.Connect,
                    $"Could not connect to {_options.Host}:{_options.Port}: {last?.Message ?? "no address"}",
                    innerException: last);
            }
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            throw Failure(e, SmtpFailureStage.Connect, _options.ConnectTimeout, ct);
        }

        _socket = connected;
        _stream = new NetworkStream(connected, ownsSocket: true);
        _reader = new ReplyReader(_stream);
    }

    private async Task StartTlsAsync(CancellationToken ct)
    {
        var ssl = new SslStream(_stream!, leaveInnerStreamOpen: false);
        try
        {
            using var timeout = Timeout(_options.CommandTimeout, ct);
            await ssl.AuthenticateAsClientAsync(_tls.AuthenticationOptions, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw Failure(e, SmtpFailureStage.Tls, _options.CommandTimeout, ct);
        }

        // A new reader: nothing read before the handshake survives it.
        _reader!.Dispose();
        _stream = ssl;
        _reader = new ReplyReader(ssl);
        IsTls = true;
    }

    private async Task HelloAsync(CancellationToken ct)
    {
        SmtpReply reply = await ExchangeAsync(ClientCommands.Ehlo(_options.ClientName), null, SmtpFailureStage.Greeting, ct).ConfigureAwait(false);
        if (reply.Code == 250)
        {
            _extensions = EhloExtensions.Parse(reply);
            return;
        }

        // RFC 5321 3.2: a server that does not know EHLO answers 5xx; HELO is the fallback, with no extensions.
        if (reply.IsPermanentFailure)
        {
            reply = await ExchangeAsync(ClientCommands.Helo(_options.ClientName), null, SmtpFailureStage.Greeting, ct).ConfigureAwait(false);
            if (reply.Code == 250)
            {
                _extensions = EhloExtensions.None;
                return;
            }
        }

        throw new SmtpConnectionException(SmtpFailureStage.Greeting, $"The upstream refused EHLO/HELO: {reply}", reply: reply);
    }

    private async Task AuthenticateAsync(string username, string password, CancellationToken ct)
    {
        const string Redacted = "<redacted>";
        SmtpReply reply;
        string mechanism;
        if (_extensions.HasAuthMechanism("PLAIN"))
        {
            mechanism = "PLAIN";
            reply = await ExchangeAsync(ClientCommands.AuthPlain(username, password), "AUTH PLAIN " + Redacted, SmtpFailureStage.Auth, ct).ConfigureAwait(false);
        }
        else if (_extensions.HasAuthMechanism("LOGIN"))
        {
            mechanism = "LOGIN";
            reply = await ExchangeAsync(ClientCommands.AuthLogin, null, SmtpFailureStage.Auth, ct).ConfigureAwait(false);
            if (reply.Code == 334)
            {
                reply = await ExchangeAsync(ClientCommands.Base64Line(username), Redacted, SmtpFailureStage.Auth, ct).ConfigureAwait(false);
            }

            if (reply.Code == 334)
            {
                reply = await ExchangeAsync(ClientCommands.Base64Line(password), Redacted, SmtpFailureStage.Auth, ct).ConfigureAwait(false);
            }
        }
        else
        {
            throw new SmtpConnectionException(SmtpFailureStage.Auth, "The upstream offers neither AUTH PLAIN nor AUTH LOGIN.");
        }

        if (reply.Code == 334)
        {
            // An unexpected challenge: cancel the exchange (RFC 4954 4) rather than guess an answer.
            await ExchangeAsync(ClientCommands.AuthCancel, null, SmtpFailureStage.Auth, ct).ConfigureAwait(false);
        }

        if (reply.Code != 235)
        {
            // Codes only: an upstream may quote the credentials it was sent in its reply text.
            throw new SmtpConnectionException(SmtpFailureStage.Auth, $"The upstream refused AUTH {mechanism}: {reply.Code} {reply.EnhancedCode}".TrimEnd(), reply: reply);
        }

        ClientLog.Authenticated(_logger, Id, mechanism);
    }

    /// <summary>A pipelined group in one write: MAIL, the RCPTs, then DATA if any.</summary>
    private static byte[] Join(byte[] mail, byte[][] rcpts, byte[]? data)
    {
        int length = mail.Length + (data?.Length ?? 0);
        foreach (byte[] rcpt in rcpts)
        {
            length += rcpt.Length;
        }

        byte[] joined = new byte[length];
        mail.CopyTo(joined, 0);
        int offset = mail.Length;
        foreach (byte[] rcpt in rcpts)
        {
            rcpt.CopyTo(joined, offset);
            offset += rcpt.Length;
        }

        data?.CopyTo(joined, offset);
        return joined;
    }

    private async Task<SmtpReply> ExchangeAsync(byte[] command, string? redacted, SmtpFailureStage stage, CancellationToken ct)
    {
        EnsureUsable();
        Trace(command, redacted);
        await WriteAsync(command, stage, ct).ConfigureAwait(false);
        SmtpReply reply = await ReadAsync(stage, _options.CommandTimeout, ct, traceText: stage != SmtpFailureStage.Auth).ConfigureAwait(false);
        if (reply.Code != 334)
        {
            // A 334 continues an AUTH exchange; every other reply ends its exchange.
            EnsureNothingWaiting(stage, reply);
        }

        return reply;
    }

    private async Task<SmtpReply[]> ExchangeManyAsync(byte[] commands, int replyCount, CancellationToken ct)
    {
        EnsureUsable();
        Trace(commands, null);
        await WriteAsync(commands, SmtpFailureStage.Command, ct).ConfigureAwait(false);
        var replies = new SmtpReply[replyCount];
        for (int i = 0; i < replyCount; i++)
        {
            replies[i] = await ReadAsync(SmtpFailureStage.Command, _options.CommandTimeout, ct).ConfigureAwait(false);
        }

        EnsureNothingWaiting(SmtpFailureStage.Command, replies[^1]);
        return replies;
    }

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, SmtpFailureStage stage, CancellationToken ct)
    {
        try
        {
            using var timeout = Timeout(_options.CommandTimeout, ct);
            await _stream!.WriteAsync(bytes, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            throw Failure(e, stage, _options.CommandTimeout, ct);
        }
    }

    private async ValueTask<SmtpReply> ReadAsync(SmtpFailureStage stage, TimeSpan limit, CancellationToken ct, bool traceText = true)
    {
        SmtpReply reply;
        try
        {
            using var timeout = Timeout(limit, ct);
            reply = await _reader!.ReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            throw Failure(e, stage, limit, ct);
        }

        // During AUTH the reply text stays out of the transcript: an upstream may echo the credentials.
        ClientLog.Received(_logger, Id, traceText ? reply : reply with { Text = "<redacted>" });

        // RFC 5321 3.8: 421 means the server is closing the channel, whatever command it answers.
        if (reply.Code == 421)
        {
            IsBroken = true;
        }

        return reply;
    }

    /// <summary>
    /// Strict framing: a reply that ends an exchange leaves nothing behind. Anything more was sent ahead of a
    /// command (a 250 right after a 354, say) and would be read as the answer to the next one.
    /// </summary>
    private void EnsureNothingWaiting(SmtpFailureStage stage, SmtpReply last)
    {
        if (_reader is { Buffered: > 0 })
        {
            IsBroken = true;
            var failure = new SmtpConnectionException(stage, $"The upstream sent more than one reply at once after {last.Code}.", reply: last, isProtocolViolation: true);
            ClientLog.Broken(_logger, Id, failure.Stage, false, failure.Message);
            throw failure;
        }
    }

    private void EnsureUsable()
    {
        if (_disposed || IsBroken || _stream is null)
        {
            throw new SmtpConnectionException(SmtpFailureStage.Command, "The upstream connection is closed or broken and cannot be used.");
        }
    }

    private void Trace(byte[] command, string? redacted)
    {
        if (!_logger.IsEnabled(LogLevel.Trace))
        {
            return;
        }

        if (redacted is not null)
        {
            Trace(redacted);
            return;
        }

        foreach (string line in Encoding.UTF8.GetString(command).Split("\r\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Trace(line);
        }
    }

    private void Trace(string line) => ClientLog.Sent(_logger, Id, line);

    private static CancellationTokenSource Timeout(TimeSpan limit, CancellationToken ct)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(limit);
        return cts;
    }

    private static bool IsConnectionFailure(Exception e) =>
        e is IOException or SocketException or OperationCanceledException or SmtpReplyFormatException
            or ObjectDisposedException or AuthenticationException or SmtpConnectionException;

    /// <summary>The one place that turns a low-level failure into "the connection is gone".</summary>
    private Exception Failure(Exception e, SmtpFailureStage stage, TimeSpan limit, CancellationToken ct)
    {
        IsBroken = true;
        if (e is SmtpConnectionException)
        {
            return e;
        }

        if (e is OperationCanceledException && ct.IsCancellationRequested)
        {
            // The caller gave up: not an upstream failure, but the session is mid-command and unusable.
            return new OperationCanceledException("The operation was canceled.", e, ct);
        }

        SmtpConnectionException failure = e switch
        {
            OperationCanceledException => new SmtpConnectionException(stage, $"No answer from the upstream within {limit}.", isTimeout: true, innerException: e),
            SmtpReplyFormatException => new SmtpConnectionException(stage, $"The upstream sent something that is not an SMTP reply ({e.Message}).", innerException: e),
            EndOfStreamException => new SmtpConnectionException(stage, "The upstream closed the connection.", innerException: e),
            AuthenticationException => new SmtpConnectionException(SmtpFailureStage.Tls, $"TLS with the upstream failed: {e.Message}", innerException: e),
            _ => new SmtpConnectionException(stage, $"I/O with the upstream failed: {e.Message}", innerException: e),
        };

        if (_ready)
        {
            ClientLog.Broken(_logger, Id, failure.Stage, failure.IsTimeout, failure.Message);
        }

        return failure;
    }

    private async ValueTask CloseTransportAsync()
    {
        _reader?.Dispose();
        _reader = null;
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
            _stream = null;
        }

        _socket?.Dispose();
        _socket = null;
        IsTls = false;
    }
}
