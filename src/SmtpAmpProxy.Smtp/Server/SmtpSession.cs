using System.Buffers;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// One SMTP conversation: its dispatch and its state. Commands are read through <see cref="SessionTransport"/>
/// (timed by <see cref="SessionTimeoutControl"/>), parsed by <see cref="SmtpCommandParser"/>, checked against
/// <see cref="SmtpStateTable"/>, then executed here; a message is taken in by <see cref="DataReceiver"/>, and
/// the handler is called through <see cref="HandlerInvoker"/>.
/// </summary>
internal sealed partial class SmtpSession
{
    private readonly SmtpServerContext _context;
    private readonly SmtpServerOptions _options;
    private readonly SmtpReplies _replies;
    private readonly TlsMode _tlsMode;
    private readonly SmtpSessionInfo _info;
    private readonly string? _refusal;
    private readonly CancellationTokenSource _abort = new();
    private readonly SessionTimeoutControl _timeouts;
    private readonly SessionTransport _transport;
    private readonly DataReceiver _data;
    private HandlerInvoker? _handler;

    private SmtpState _state;
    private bool _discardingLine;
    private readonly SmtpStringCache _strings = new();

    private bool _transactionOpen;
    private bool _transactionUtf8;
    private bool _smtpUtf8Offered;
    private bool _recipientTried;
    private int _recipients;

    private int _errors;
    private int _commands;
    private int _messages;

    /// <param name="refusal">Non-null: the connection crossed a connection limit; say 421 and close.</param>
    public SmtpSession(SmtpServerContext context, Stream transport, TlsMode tlsMode, SmtpSessionInfo info, string? refusal)
    {
        _context = context;
        _options = context.Options;
        _replies = context.Replies;
        _tlsMode = tlsMode;
        _info = info;
        _refusal = refusal;
        _timeouts = new SessionTimeoutControl(context.Time, context.Options);
        _transport = new SessionTransport(transport, _timeouts);
        _data = new DataReceiver(context, info, _transport, _timeouts);
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

    /// <summary>Between transactions (DATA is inside one): a stop may end the session now.</summary>
    private bool IsIdle => _state is SmtpState.Connected or SmtpState.Ready;

    /// <summary>Graceful stop: an idle session gets 421 4.3.2 now, a busy one after its transaction.</summary>
    public void RequestStop() => _transport.RequestStop();

    /// <summary>The stop deadline passed: 421 4.3.2 and close, whatever the session is doing.</summary>
    public void Abort()
    {
        _transport.Abort();
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Last resort after <see cref="Abort"/>: a session blocked writing to a peer that never reads.</summary>
    public void ForceClose() => _transport.ForceClose();

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

            _handler = new HandlerInvoker(_context.Handlers.Create(_info), logger, _info, _abort.Token);
            _timeouts.StartGreeting();
            Reply(_replies.Greeting);
            await CommandLoopAsync();
        }
        catch (Exception ex) when (SessionTransport.IsConnectionFailure(ex))
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
                await _handler.DisposeAsync();
            }

            await _transport.CloseAsync();

            _timeouts.Dispose();
            _abort.Dispose();
            ServerLog.SessionEnded(logger, _info.SessionId, _info.RemoteEndPoint, _commands, _messages);
        }
    }

    private async Task CommandLoopAsync()
    {
        while (true)
        {
            if (_transport.Stopping && IsIdle)
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
                await _transport.FlushAsync();
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
        _timeouts.Greeted();
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

        var reply = await _handler!.MailAsync(command.Argument!, parameters);
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

        var reply = await _handler!.RcptAsync(address, command.Parameters ?? string.Empty);
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
        if (await _handler!.DataStartAsync() is { } refused)
        {
            Reply(refused, serverMade: false);
            return Step.Stay;
        }

        Reply(SmtpReplies.DataStart);
        using var message = new MessageBuffer(_options.MemoryBufferBytes, _context.Spill);
        var receipt = await _data.ReceiveAsync(message);
        if (receipt.Outcome != ReadOutcome.Data)
        {
            await AbandonTransactionAsync();
            if (!receipt.SenderLeft)
            {
                await EndAfterReadAsync(receipt.Outcome);
            }

            return Step.Close;
        }

        _messages++;
        if (receipt.Refusal is { } contentRefusal)
        {
            Reply(contentRefusal);
            await AbandonTransactionAsync();
            return Step.Advance;
        }

        var reply = await _handler.DataAsync(message);
        Reply(reply, serverMade: false);
        _transactionOpen = false;
        return Step.Advance;
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
        await _handler!.ResetAsync();
    }

    /// <summary>
    /// Reads one command line. The whole line has one deadline, <see cref="SmtpServerOptions.CommandTimeout"/> from
    /// the moment the wait starts (earlier before EHLO: the greeting-to-EHLO deadline): bytes trickled in one at a
    /// time do not restart it, as they did when every read had its own timeout.
    /// </summary>
    private async ValueTask<(ReadOutcome Outcome, SmtpCommand Command)> ReadCommandAsync()
    {
        _timeouts.StartCommandLine();
        while (true)
        {
            await _transport.FlushBeforeReadAsync();
            var (outcome, result) = await _transport.ReadAsync(_timeouts.NextReadTimeout(), IsIdle);
            if (outcome != ReadOutcome.Data)
            {
                if (outcome == ReadOutcome.TimedOut && _timeouts.Limit == SessionTimeout.GreetingToEhlo)
                {
                    ServerLog.DeadlinePassed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "greeting-to-EHLO",
                        _options.HeloTimeout.TotalSeconds);
                }

                return (outcome, default);
            }

            var buffer = result.Buffer;
            if (TryTakeCommand(buffer, out var command, out var consumed))
            {
                _transport.Take(buffer, consumed);
                return (ReadOutcome.Data, command);
            }

            _transport.NeedMore(buffer, consumed);
            if (result.IsCompleted)
            {
                return (ReadOutcome.Closed, default);
            }
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

    private Step Reply(EncodedReply reply, Step step)
    {
        Reply(reply);
        return step;
    }

    private void Reply(EncodedReply reply)
    {
        _transport.Write(reply.Bytes);
        if (reply.Reply.Code >= 400)
        {
            CountError(reply.Reply, log: true);
        }
    }

    private void Reply(SmtpReply reply, bool serverMade)
    {
        _transport.Write(reply);
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

    private async ValueTask CloseWithAsync(EncodedReply reply)
    {
        Reply(reply);
        try
        {
            await _transport.FlushAsync();
        }
        catch (Exception ex) when (SessionTransport.IsConnectionFailure(ex))
        {
            // The peer is gone; there is no one left to tell.
        }
    }
}
