using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// One SMTP conversation over a byte stream. Commands are read from a <see cref="PipeReader"/>, parsed by
/// <see cref="SmtpCommandParser"/>, checked against <see cref="SmtpStateTable"/>, then executed here.
/// Replies are written to a <see cref="PipeWriter"/> and flushed only when no further command is already
/// buffered, or before waiting for input (RFC 2920 3.2): a pipelined batch gets its replies in one write.
/// </summary>
internal sealed partial class SmtpSession
{
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true);
    private static readonly StreamPipeWriterOptions WriterOptions = new(leaveOpen: true);
    private static readonly TimeSpan MinimumDataWait = TimeSpan.FromMilliseconds(10);

    // Message bytes a session takes in before it lets its thread serve other sessions: about 0.1 ms of work.
    private const int DataBytesBetweenYields = 256 * 1024;

    private readonly SmtpServerContext _context;
    private readonly SmtpServerOptions _options;
    private readonly SmtpReplies _replies;
    private readonly Stream _transport;
    private readonly TlsMode _tlsMode;
    private readonly SmtpSessionInfo _info;
    private readonly string? _refusal;
    private readonly CancellationTokenSource _abort = new();
    private CancellationTokenSource _timeout;
    private Stream _stream;
    private PipeReader _input;
    private PipeWriter _output;
    private ISmtpSessionHandler? _handler;

    private SmtpState _state;
    private bool _outputPending;
    private bool _discardingLine;
    private bool _inData;
    private readonly SmtpStringCache _strings = new();
    private long _bufferedAfterCommand;

    private bool _transactionOpen;
    private bool _transactionUtf8;
    private bool _smtpUtf8Offered;
    private bool _recipientTried;
    private int _recipients;

    private int _errors;
    private int _commands;

    // Greeting-to-EHLO is one phase with one total deadline: until EHLO/HELO succeeds, every command wait
    // ends by then, however the client spends the time (NOOPs, refused commands, a trickle of bytes).
    private bool _greeted;
    private long _heloDeadline;
    private int _messages;
    private volatile bool _stopping;
    private volatile bool _hardStop;

    /// <param name="refusal">Non-null: the connection crossed a connection limit; say 421 and close.</param>
    public SmtpSession(SmtpServerContext context, Stream transport, TlsMode tlsMode, SmtpSessionInfo info, string? refusal)
    {
        _context = context;
        _options = context.Options;
        _replies = context.Replies;
        _transport = transport;
        _tlsMode = tlsMode;
        _info = info;
        _refusal = refusal;
        _stream = transport;
        _input = PipeReader.Create(transport, ReaderOptions);
        _output = PipeWriter.Create(transport, WriterOptions);
        _timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, context.Time);
    }

    private enum ReadOutcome
    {
        Data,
        Closed,
        TimedOut,
        Stopped,
    }

    private enum Step
    {
        /// <summary>The command was refused or failed: the state stays.</summary>
        Stay,

        /// <summary>The command succeeded: take the table's next state.</summary>
        Advance,

        /// <summary>End the session (QUIT, lost connection, final 421).</summary>
        Close,
    }

    public SmtpSessionInfo Info => _info;

    /// <summary>Between transactions (and not inside DATA): a stop may end the session now.</summary>
    private bool IsIdle => _state is SmtpState.Connected or SmtpState.Ready && !_inData;

    /// <summary>Graceful stop: an idle session gets 421 4.3.2 now, a busy one after its transaction.</summary>
    public void RequestStop()
    {
        _stopping = true;
        CancelRead();
    }

    /// <summary>The stop deadline passed: 421 4.3.2 and close, whatever the session is doing.</summary>
    public void Abort()
    {
        _hardStop = true;
        _stopping = true;
        CancelRead();
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Last resort after <see cref="Abort"/>: a session blocked writing to a peer that never reads.</summary>
    public void ForceClose()
    {
        try
        {
            _transport.Dispose();
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
        }
    }

    public async Task RunAsync()
    {
        var logger = _context.Logger;
        ServerLog.SessionStarted(logger, _info.SessionId, _info.RemoteEndPoint, _info.LocalEndPoint);
        try
        {
            if (_tlsMode == TlsMode.Implicit && !await StartTlsAsync())
            {
                return;
            }

            if (_refusal is not null)
            {
                ServerLog.ConnectionRefused(logger, _info.RemoteEndPoint, _refusal);
                await CloseWithAsync(_replies.TooManyConnections);
                return;
            }

            _handler = _context.Handlers.Create(_info);
            _heloDeadline = DeadlineAfter(_options.HeloTimeout);
            Reply(_replies.Greeting);
            await CommandLoopAsync();
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            ServerLog.ConnectionLost(logger, _info.SessionId, _info.RemoteEndPoint);
        }
        catch (Exception ex)
        {
            ServerLog.SessionFailed(logger, _info.SessionId, _info.RemoteEndPoint, ex);
        }
        finally
        {
            // The handler first: it holds a pooled upstream connection, which must go back even if
            // closing this transport throws.
            if (_handler is not null)
            {
                try
                {
                    await _handler.DisposeAsync();
                }
                catch (Exception ex)
                {
                    ServerLog.HandlerFailed(logger, _info.SessionId, _info.RemoteEndPoint, "dispose", ex);
                }
            }

            await CloseTransportAsync();

            _timeout.Dispose();
            _abort.Dispose();
            ServerLog.SessionEnded(logger, _info.SessionId, _info.RemoteEndPoint, _commands, _messages);
        }
    }

    private static bool IsConnectionFailure(Exception ex) =>
        ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or AuthenticationException;

    private async Task CommandLoopAsync()
    {
        while (true)
        {
            if (_stopping && IsIdle)
            {
                await CloseWithAsync(_replies.ShuttingDown);
                return;
            }

            var (outcome, command) = await ReadCommandAsync();
            if (outcome != ReadOutcome.Data)
            {
                await EndAfterReadAsync(outcome);
                return;
            }

            _commands++;
            if (await ExecuteAsync(command) == Step.Close)
            {
                await FlushAsync();
                return;
            }

            if (_errors >= _options.MaxErrorsPerSession)
            {
                ServerLog.TooManyErrors(_context.Logger, _info.SessionId, _info.RemoteEndPoint);
                await CloseWithAsync(_replies.TooManyErrors);
                return;
            }
        }
    }

    private async ValueTask<Step> ExecuteAsync(SmtpCommand command)
    {
        switch (command.Verb)
        {
            case SmtpVerb.LineTooLong:
                Reply(SmtpReplies.LineTooLong);
                _discardingLine = !command.LineComplete;
                return Step.Stay;
            case SmtpVerb.Unknown:
                Reply(command.Error!.Value, serverMade: true);
                return Step.Stay;
        }

        var transition = SmtpStateTable.Lookup(_state, command.Verb);
        if (!transition.Allowed)
        {
            // RFC 2920 3.1: after every pipelined RCPT failed, DATA gets 554, not "need RCPT".
            var noRecipients = command.Verb == SmtpVerb.Data && _state == SmtpState.HaveMail && _recipientTried;
            Reply(noRecipients ? SmtpReplies.NoValidRecipients.Reply : transition.Refusal, serverMade: true);
            return Step.Stay;
        }

        if ((transition.Guards & SmtpGuard.Tls) != 0 && _options.RequireTls && !_info.IsTls)
        {
            Reply(SmtpReplies.MustStartTls);
            return Step.Stay;
        }

        if ((transition.Guards & SmtpGuard.Auth) != 0 && _options.Access.RequireAuth && _info.AuthenticatedUser is null)
        {
            Reply(SmtpReplies.AuthRequired);
            return Step.Stay;
        }

        if (command.Error is { } error)
        {
            Reply(error, serverMade: true);
            return Step.Stay;
        }

        var step = command.Verb switch
        {
            SmtpVerb.Ehlo or SmtpVerb.Helo => await HeloAsync(command),
            SmtpVerb.Mail => await MailAsync(command),
            SmtpVerb.Rcpt => await RcptAsync(command),
            SmtpVerb.Data => await DataAsync(),
            SmtpVerb.Rset => await RsetAsync(),
            SmtpVerb.Noop => Reply(SmtpReplies.Ok, Step.Advance),
            SmtpVerb.Vrfy => Reply(SmtpReplies.Vrfy, Step.Advance),
            SmtpVerb.Help => Reply(_replies.GetHelp(Offers()), Step.Advance),
            SmtpVerb.Quit => Reply(SmtpReplies.Bye, Step.Close),
            SmtpVerb.StartTls => await StartTlsCommandAsync(),
            SmtpVerb.Auth => await AuthAsync(command),
            _ => throw new InvalidOperationException($"No handler for {command.Verb}"),
        };
        if (step == Step.Advance)
        {
            _state = transition.Next;
        }

        return step;
    }

    private async ValueTask<Step> HeloAsync(SmtpCommand command)
    {
        await AbandonTransactionAsync();
        _greeted = true;
        _info.HeloName = command.Argument;
        if (command.Verb == SmtpVerb.Helo)
        {
            _smtpUtf8Offered = false;
            Reply(_replies.Helo);
        }
        else
        {
            var offers = Offers();
            _smtpUtf8Offered = (offers & SmtpOffers.SmtpUtf8) != 0;
            Reply(_replies.GetEhlo(offers));
        }

        return Step.Advance;
    }

    /// <summary>What EHLO (and HELP) offer now: STARTTLS and AUTH by the session's state, SMTPUTF8 as the handler says.</summary>
    private SmtpOffers Offers()
    {
        var offers = _handler!.OffersSmtpUtf8 ? SmtpOffers.SmtpUtf8 : SmtpOffers.None;
        if (_context.TlsOptions is not null && _tlsMode != TlsMode.None && !_info.IsTls)
        {
            offers |= SmtpOffers.StartTls;
        }

        if (_options.Authenticator is not null && _info.AuthenticatedUser is null && (_info.IsTls || _options.AllowAuthWithoutTls))
        {
            offers |= SmtpOffers.Auth;
        }

        return offers;
    }

    private async ValueTask<Step> MailAsync(SmtpCommand command)
    {
        var parameters = command.Mail!;
        if (parameters.Size > _options.MaxMessageBytes)
        {
            Reply(SmtpReplies.SizeExceeded);
            return Step.Stay;
        }

        if ((parameters.SmtpUtf8 || command.PathIsUtf8) && !_smtpUtf8Offered)
        {
            // RFC 6531's reply for non-ASCII addresses (553, X.6.7), once at MAIL: not a 555 for the parameter
            // and a refused RCPT after it for every UTF-8 address. Not offered after HELO, nor where the
            // handler (a relay: its upstream) cannot carry it on.
            Reply(SmtpReplies.Utf8NotOffered);
            return Step.Stay;
        }

        if (command.PathIsUtf8 && !parameters.SmtpUtf8)
        {
            Reply(SmtpReplies.Utf8NotDeclared);
            return Step.Stay;
        }

        SmtpReply reply;
        try
        {
            reply = await _handler!.MailAsync(command.Argument!, parameters, _abort.Token);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            ServerLog.HandlerFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "MAIL", ex);
            reply = SmtpReplies.InternalError.Reply;
        }

        Reply(reply, serverMade: false);
        if (!reply.IsPositive)
        {
            return Step.Stay;
        }

        _transactionOpen = true;
        _transactionUtf8 = parameters.SmtpUtf8;
        _recipients = 0;
        _recipientTried = false;
        return Step.Advance;
    }

    private async ValueTask<Step> RcptAsync(SmtpCommand command)
    {
        _recipientTried = true;
        if (_recipients >= _options.MaxRecipients)
        {
            Reply(SmtpReplies.TooManyRecipients);
            return Step.Stay;
        }

        if (command.PathIsUtf8 && !_transactionUtf8)
        {
            Reply(SmtpReplies.Utf8NotDeclared);
            return Step.Stay;
        }

        var address = command.Argument!;
        if (!_options.Access.MayRelay(_info))
        {
            ServerLog.RelayDenied(_context.Logger, _info.SessionId, _info.RemoteEndPoint, address);
            Reply(new SmtpReply(554, "5.7.1", $"<{address}>: Relay access denied"), serverMade: true);
            return Step.Stay;
        }

        SmtpReply reply;
        try
        {
            reply = await _handler!.RcptAsync(address, command.Parameters ?? string.Empty, _abort.Token);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            ServerLog.HandlerFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "RCPT", ex);
            reply = SmtpReplies.InternalError.Reply;
        }

        Reply(reply, serverMade: false);
        if (!reply.IsPositive)
        {
            return Step.Stay;
        }

        _recipients++;
        return Step.Advance;
    }

    private async ValueTask<Step> DataAsync()
    {
        SmtpReply? refusal;
        try
        {
            refusal = await _handler!.DataStartAsync(_abort.Token);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            ServerLog.HandlerFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "DATA", ex);
            refusal = SmtpReplies.InternalError.Reply;
        }

        if (refusal is { } refused)
        {
            Reply(refused, serverMade: false);
            return Step.Stay;
        }

        Reply(SmtpReplies.DataStart);
        using var message = new MessageBuffer(_options.MemoryBufferBytes, _context.Spill);
        var reader = new SmtpDataReader(message, _options.MaxMessageBytes, _options.BareLineFeed, _options.MaxHeaderBytes,
            _options.BareCarriageReturn);
        _inData = true;
        var drained = _bufferedAfterCommand == 0;
        var started = _context.Time.GetTimestamp();
        long sinceYield = 0;
        while (true)
        {
            if (drained)
            {
                await FlushAsync();
            }

            var timeout = DataReadTimeout(reader.MessageBytes, started);
            var (outcome, result) = await ReadAsync(timeout);
            if (outcome != ReadOutcome.Data)
            {
                if (outcome == ReadOutcome.TimedOut && timeout < _options.DataTimeout)
                {
                    ServerLog.DataTooSlow(_context.Logger, _info.SessionId, _info.RemoteEndPoint, _options.MinDataRateBytesPerSecond,
                        reader.MessageBytes, _context.Time.GetElapsedTime(started).TotalSeconds);
                }
                else if (outcome == ReadOutcome.Closed)
                {
                    LogSenderVanished(reader, started);
                }

                await AbandonTransactionAsync();
                await EndAfterReadAsync(outcome);
                return Step.Close;
            }

            var buffer = result.Buffer;
            if (Feed(reader, buffer, out var end))
            {
                _input.AdvanceTo(end);
                _bufferedAfterCommand = buffer.Slice(end).Length;
                break;
            }

            _input.AdvanceTo(buffer.End);
            if (result.IsCompleted)
            {
                LogSenderVanished(reader, started);
                await AbandonTransactionAsync();
                return Step.Close;
            }

            drained = true;
            sinceYield += buffer.Length;
            if (sinceYield >= DataBytesBetweenYields)
            {
                // While the socket has data, reads complete at once and this loop never gives the event thread
                // back: a sender's megabytes already in the socket buffers would hold up every session it serves.
                sinceYield = 0;
                await Task.Yield();
            }
        }

        _inData = false;
        _messages++;
        var stored = reader.Overflowed || reader.HeaderOverflowed || message.Seal();
        var contentRefusal = reader.Overflowed ? SmtpReplies.SizeExceeded
            : reader.HeaderOverflowed ? SmtpReplies.HeaderSizeExceeded
            : !stored ? SmtpReplies.InsufficientStorage
            : reader.SawBareCr ? SmtpReplies.BareCr
            : reader.SawRejectedBareLf ? SmtpReplies.BareLf
            : null;
        if (!stored)
        {
            // The session stays usable: the next message may fit in memory, or the disk may have room again.
            ServerLog.SpillFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, _context.Spill.Path, message.StorageError ?? "");
        }

        if (contentRefusal is not null)
        {
            ServerLog.MessageRefused(_context.Logger, _info.SessionId, _info.RemoteEndPoint, contentRefusal.Reply.Text);
            Reply(contentRefusal);
            await AbandonTransactionAsync();
            return Step.Advance;
        }

        SmtpReply reply;
        try
        {
            reply = await _handler!.DataAsync(message, _abort.Token);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            ServerLog.HandlerFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "DATA", ex);
            reply = SmtpReplies.InternalError.Reply;
        }

        Reply(reply, serverMade: false);
        _transactionOpen = false;
        return Step.Advance;
    }

    /// <summary>
    /// A sender that disconnects (or whose connection breaks) inside DATA is a message that was not sent, which an
    /// operator wants to see next to the relayed and refused ones, not only as a debug-level lost connection.
    /// </summary>
    private void LogSenderVanished(SmtpDataReader reader, long started) =>
        ServerLog.SenderVanishedInData(_context.Logger, "sender-vanished", _info.SessionId, _info.RemoteEndPoint,
            reader.MessageBytes, _context.Time.GetElapsedTime(started).TotalSeconds);

    /// <summary>
    /// Slowloris in DATA: the next bytes must come before what was received so far falls below the minimum rate
    /// (after the grace period), not merely within <see cref="SmtpServerOptions.DataTimeout"/> of the last byte.
    /// </summary>
    private TimeSpan DataReadTimeout(long received, long started)
    {
        var rate = _options.MinDataRateBytesPerSecond;
        if (rate <= 0)
        {
            return _options.DataTimeout;
        }

        var allowed = TimeSpan.FromSeconds((double)received / rate);
        if (allowed < _options.MinDataRateGracePeriod)
        {
            allowed = _options.MinDataRateGracePeriod;
        }

        // Already below the rate: one short wait for bytes that may be in flight, then 421.
        var left = allowed - _context.Time.GetElapsedTime(started);
        return left < MinimumDataWait ? MinimumDataWait : left < _options.DataTimeout ? left : _options.DataTimeout;
    }

    private static bool Feed(SmtpDataReader reader, in ReadOnlySequence<byte> buffer, out SequencePosition end)
    {
        long consumed = 0;
        foreach (var segment in buffer)
        {
            if (reader.Process(segment.Span, out var used))
            {
                end = buffer.GetPosition(consumed + used);
                return true;
            }

            consumed += segment.Length;
        }

        end = buffer.End;
        return false;
    }

    private async ValueTask<Step> RsetAsync()
    {
        await AbandonTransactionAsync();
        Reply(SmtpReplies.Ok);
        return Step.Advance;
    }

    private async ValueTask AbandonTransactionAsync()
    {
        if (!_transactionOpen)
        {
            return;
        }

        _transactionOpen = false;
        _transactionUtf8 = false;
        _recipients = 0;
        _recipientTried = false;
        try
        {
            await _handler!.ResetAsync(_abort.Token);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            ServerLog.HandlerFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "RSET", ex);
        }
    }

    /// <summary>
    /// Reads one command line. The whole line has one deadline, <see cref="SmtpServerOptions.CommandTimeout"/> from
    /// the moment the wait starts (earlier before EHLO: the greeting-to-EHLO deadline): bytes trickled in one at a
    /// time do not restart it, as they did when every read had its own timeout.
    /// </summary>
    private async ValueTask<(ReadOutcome Outcome, SmtpCommand Command)> ReadCommandAsync()
    {
        var drained = _bufferedAfterCommand == 0;
        var deadline = DeadlineAfter(_options.CommandTimeout);
        var beforeHelo = !_greeted && _heloDeadline < deadline;
        if (beforeHelo)
        {
            deadline = _heloDeadline;
        }

        while (true)
        {
            if (drained)
            {
                await FlushAsync();
            }

            var (outcome, result) = await ReadAsync(TimeLeft(deadline));
            if (outcome != ReadOutcome.Data)
            {
                if (outcome == ReadOutcome.TimedOut && beforeHelo)
                {
                    ServerLog.DeadlinePassed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "greeting-to-EHLO",
                        _options.HeloTimeout.TotalSeconds);
                }

                return (outcome, default);
            }

            var buffer = result.Buffer;
            if (TryTakeCommand(buffer, out var command, out var consumed))
            {
                _input.AdvanceTo(consumed);
                _bufferedAfterCommand = buffer.Slice(consumed).Length;
                return (ReadOutcome.Data, command);
            }

            _input.AdvanceTo(consumed, buffer.End);
            if (result.IsCompleted)
            {
                return (ReadOutcome.Closed, default);
            }

            drained = true;
        }
    }

    private bool TryTakeCommand(in ReadOnlySequence<byte> buffer, out SmtpCommand command, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (_discardingLine)
        {
            // The rest of an over-long line: thrown away as it arrives, never buffered.
            if (!reader.TryAdvanceTo((byte)'\n'))
            {
                command = default;
                consumed = buffer.End;
                return false;
            }

            _discardingLine = false;
        }

        var complete = SmtpCommandParser.TryParse(ref reader, _options.MaxCommandLineBytes, _strings, out command);
        consumed = reader.Position;
        return complete;
    }

    /// <summary>
    /// Reads one AUTH response line (RFC 4954 4), by <paramref name="exchangeDeadline"/> (the whole AUTH exchange)
    /// and within the command timeout. Null line: the read failed with the outcome given.
    /// </summary>
    private async ValueTask<(ReadOutcome Outcome, string? Line)> ReadAuthLineAsync(long exchangeDeadline)
    {
        var lineDeadline = DeadlineAfter(_options.CommandTimeout);
        var deadline = Math.Min(lineDeadline, exchangeDeadline);
        while (true)
        {
            await FlushAsync();
            var (outcome, result) = await ReadAsync(TimeLeft(deadline));
            if (outcome != ReadOutcome.Data)
            {
                if (outcome == ReadOutcome.TimedOut && exchangeDeadline <= lineDeadline)
                {
                    ServerLog.DeadlinePassed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "AUTH", _options.AuthTimeout.TotalSeconds);
                }

                return (outcome, null);
            }

            var buffer = result.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            if (reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
            {
                var text = line.Length < _options.MaxCommandLineBytes ? GetAsciiLine(line) : null;
                _input.AdvanceTo(reader.Position);
                _bufferedAfterCommand = reader.Remaining;
                return (ReadOutcome.Data, text ?? string.Empty);
            }

            if (buffer.Length >= _options.MaxCommandLineBytes)
            {
                _input.AdvanceTo(buffer.End);
                _discardingLine = true;
                return (ReadOutcome.Data, string.Empty);
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return (ReadOutcome.Closed, null);
            }
        }
    }

    private static string? GetAsciiLine(in ReadOnlySequence<byte> line)
    {
        var bytes = line.ToArray().AsSpan();
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r')
        {
            bytes = bytes[..^1];
        }

        foreach (var b in bytes)
        {
            if (b is < 0x21 or > 0x7E)
            {
                return null;
            }
        }

        return System.Text.Encoding.ASCII.GetString(bytes);
    }

    /// <summary>A point on the session's clock (<see cref="TimeProvider.GetTimestamp"/>) <paramref name="span"/> from now.</summary>
    private long DeadlineAfter(TimeSpan span)
    {
        var frequency = _context.Time.TimestampFrequency;
        var ticks = span.TotalSeconds * frequency;
        var now = _context.Time.GetTimestamp();
        return ticks >= long.MaxValue - now ? long.MaxValue : now + (long)ticks;
    }

    private TimeSpan TimeLeft(long deadline)
    {
        if (deadline == long.MaxValue)
        {
            return Timeout.InfiniteTimeSpan;
        }

        var left = _context.Time.GetElapsedTime(_context.Time.GetTimestamp(), deadline);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private async ValueTask<(ReadOutcome Outcome, ReadResult Result)> ReadAsync(TimeSpan timeout)
    {
        while (true)
        {
            if (_hardStop)
            {
                return (ReadOutcome.Stopped, default);
            }

            if (timeout == TimeSpan.Zero)
            {
                // The deadline of the whole line or phase has passed while the client kept trickling bytes.
                return (ReadOutcome.TimedOut, default);
            }

            ReadResult result;
            _timeout.CancelAfter(timeout);
            try
            {
                result = await _input.ReadAsync(_timeout.Token);
            }
            catch (OperationCanceledException) when (_timeout.IsCancellationRequested)
            {
                return (ReadOutcome.TimedOut, default);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                return (ReadOutcome.Closed, default);
            }

            DisarmTimeout();
            if (result.IsCanceled)
            {
                _input.AdvanceTo(result.Buffer.Start);
                if (_hardStop || (_stopping && IsIdle))
                {
                    return (ReadOutcome.Stopped, default);
                }

                continue;
            }

            return (ReadOutcome.Data, result);
        }
    }

    private void DisarmTimeout()
    {
        _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        if (_timeout.IsCancellationRequested)
        {
            // The timer fired just as the read completed: the data wins, the next wait gets a fresh timer.
            _timeout.Dispose();
            _timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _context.Time);
        }
    }

    private async ValueTask EndAfterReadAsync(ReadOutcome outcome)
    {
        switch (outcome)
        {
            case ReadOutcome.TimedOut:
                ServerLog.Timeout(_context.Logger, _info.SessionId, _info.RemoteEndPoint);
                await CloseWithAsync(_replies.Timeout);
                break;
            case ReadOutcome.Stopped:
                await CloseWithAsync(_replies.ShuttingDown);
                break;
            default:
                ServerLog.ConnectionLost(_context.Logger, _info.SessionId, _info.RemoteEndPoint);
                break;
        }
    }

    private void CancelRead()
    {
        try
        {
            _input.CancelPendingRead();
        }
        catch (InvalidOperationException)
        {
            // The reader was completed (session ending or switching to TLS); nothing to wake.
        }
    }

    private Step Reply(EncodedReply reply, Step step)
    {
        Reply(reply);
        return step;
    }

    private void Reply(EncodedReply reply)
    {
        _output.Write(reply.Bytes);
        _outputPending = true;
        if (reply.Reply.Code >= 400)
        {
            CountError(reply.Reply, log: true);
        }
    }

    private void Reply(SmtpReply reply, bool serverMade)
    {
        SmtpReplyWriter.Write(_output, reply);
        _outputPending = true;
        if (reply.Code >= 400)
        {
            CountError(reply, serverMade);
        }
    }

    private void CountError(in SmtpReply reply, bool log)
    {
        // Postfix counts every refusal toward smtpd_hard_error_limit; 421 is the final word, not an error.
        if (reply.Code == 421)
        {
            return;
        }

        _errors++;
        if (log)
        {
            ServerLog.ProtocolError(_context.Logger, _info.SessionId, _info.RemoteEndPoint, reply.Code, reply.EnhancedCode, reply.Text);
        }
    }

    private async ValueTask FlushAsync()
    {
        if (!_outputPending)
        {
            return;
        }

        _outputPending = false;
        // A client that stops reading must not hold a session forever: the write has the command timeout too.
        _timeout.CancelAfter(_options.CommandTimeout);
        try
        {
            await _output.FlushAsync(_timeout.Token);
        }
        finally
        {
            DisarmTimeout();
        }
    }

    private async ValueTask CloseWithAsync(EncodedReply reply)
    {
        Reply(reply);
        try
        {
            await FlushAsync();
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            // The peer is gone; there is no one left to tell.
        }
    }

    private async ValueTask CloseTransportAsync()
    {
        try
        {
            await _input.CompleteAsync();
            await _output.CompleteAsync();
            if (_transport is NetworkStream network)
            {
                // A FIN after the last reply, so the peer reads our 221/421 before the socket goes away.
                network.Socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception ex) when (IsConnectionFailure(ex) || ex is InvalidOperationException)
        {
        }
        finally
        {
            await _stream.DisposeAsync();
            if (!ReferenceEquals(_stream, _transport))
            {
                await _transport.DisposeAsync();
            }
        }
    }
}
