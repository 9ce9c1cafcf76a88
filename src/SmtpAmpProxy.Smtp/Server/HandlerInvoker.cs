using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// The one path from a session to its <see cref="ISmtpSessionHandler"/>. A handler that fails is the proxy's
/// fault, not the client's: the failure is logged with the command it broke and the client gets
/// <see cref="SmtpReplies.InternalError"/>, and the session goes on. Only the session's abort (the stop deadline
/// passed) lets an exception through, to end the session.
/// <para>
/// A call that completes at once costs nothing more than the handler's own; only one that waits goes through a
/// pooled async step, so a pipelined burst of commands allocates nothing here.
/// </para>
/// </summary>
internal sealed class HandlerInvoker
{
    // What the client hears when its handler failed: the proxy's fault, so a transient 4xx it may retry.
    private static readonly SmtpReply Failure = SmtpReplies.InternalError.Reply;

    private readonly ISmtpSessionHandler _handler;
    private readonly ILogger _logger;
    private readonly SmtpSessionInfo _info;
    private readonly CancellationToken _abort;

    public HandlerInvoker(ISmtpSessionHandler handler, ILogger logger, SmtpSessionInfo info, CancellationToken abort)
    {
        _handler = handler;
        _logger = logger;
        _info = info;
        _abort = abort;
    }

    /// <summary>May EHLO offer SMTPUTF8 now: the handler's answer (a relay's upstream must carry it on).</summary>
    public bool OffersSmtpUtf8 => _handler.OffersSmtpUtf8;

    public ValueTask<SmtpReply> MailAsync(string reversePath, MailParameters parameters)
    {
        ValueTask<SmtpReply> call;
        try
        {
            call = _handler.MailAsync(reversePath, parameters, _abort);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            return new(Failed("MAIL", ex));
        }

        return call.IsCompletedSuccessfully ? call : GuardAsync(call, "MAIL", Failure);
    }

    public ValueTask<SmtpReply> RcptAsync(string forwardPath, string rawParameters)
    {
        ValueTask<SmtpReply> call;
        try
        {
            call = _handler.RcptAsync(forwardPath, rawParameters, _abort);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            return new(Failed("RCPT", ex));
        }

        return call.IsCompletedSuccessfully ? call : GuardAsync(call, "RCPT", Failure);
    }

    /// <summary>Null: go ahead with 354; else the reply that refuses DATA.</summary>
    public ValueTask<SmtpReply?> DataStartAsync()
    {
        ValueTask<SmtpReply?> call;
        try
        {
            call = _handler.DataStartAsync(_abort);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            return new(Failed("DATA", ex));
        }

        return call.IsCompletedSuccessfully ? call : GuardAsync(call, "DATA", Failure);
    }

    public ValueTask<SmtpReply> DataAsync(MessageBuffer message)
    {
        ValueTask<SmtpReply> call;
        try
        {
            call = _handler.DataAsync(message, _abort);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            return new(Failed("DATA", ex));
        }

        return call.IsCompletedSuccessfully ? call : GuardAsync(call, "DATA", Failure);
    }

    /// <summary>The transaction is abandoned whatever the handler says: a failure is only logged.</summary>
    public ValueTask ResetAsync()
    {
        ValueTask call;
        try
        {
            call = _handler.ResetAsync(_abort);
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            Failed("RSET", ex);
            return default;
        }

        return call.IsCompletedSuccessfully ? call : GuardAsync(call, "RSET");
    }

    /// <summary>
    /// The session is over. The handler holds a pooled upstream connection, which must go back even when the
    /// session was aborted, so every failure here is only logged.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _handler.DisposeAsync();
        }
        catch (Exception ex)
        {
            Failed("dispose", ex);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<T> GuardAsync<T>(ValueTask<T> call, string command, T failure)
    {
        try
        {
            return await call;
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            Failed(command, ex);
            return failure;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask GuardAsync(ValueTask call, string command)
    {
        try
        {
            await call;
        }
        catch (Exception ex) when (!_abort.IsCancellationRequested)
        {
            Failed(command, ex);
        }
    }

    private SmtpReply Failed(string command, Exception ex)
    {
        ServerLog.HandlerFailed(_logger, _info.SessionId, _info.RemoteEndPoint, command, ex);
        return Failure;
    }
}
