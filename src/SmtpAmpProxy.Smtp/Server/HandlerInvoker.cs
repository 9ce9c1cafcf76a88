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
internal sealed class HandlerInvoker(ISmtpSessionHandler handler, ILogger logger, SmtpSessionInfo info, CancellationToken abort)
{
    // What the client hears when its handler failed: the proxy's fault, so a transient 4xx it may retry.
    private static readonly SmtpReply Failure = SmtpReplies.InternalError.Reply;

    /// <summary>May EHLO offer SMTPUTF8 now: the handler's answer (a relay's upstream must carry it on).</summary>
    public bool OffersSmtpUtf8 => handler.OffersSmtpUtf8;

    public ValueTask<SmtpReply> MailAsync(string reversePath, MailParameters parameters) =>
        Invoke(static (target, args, ct) => target.MailAsync(args.reversePath, args.parameters, ct), (reversePath, parameters), "MAIL", Failure);

    public ValueTask<SmtpReply> RcptAsync(string forwardPath, string rawParameters) =>
        Invoke(static (target, args, ct) => target.RcptAsync(args.forwardPath, args.rawParameters, ct), (forwardPath, rawParameters), "RCPT", Failure);

    /// <summary>Null: go ahead with 354; else the reply that refuses DATA.</summary>
    public ValueTask<SmtpReply?> DataStartAsync() =>
        Invoke(static (target, _, ct) => target.DataStartAsync(ct), 0, "DATA", (SmtpReply?)Failure);

    public ValueTask<SmtpReply> DataAsync(MessageBuffer message) =>
        Invoke(static (target, buffer, ct) => target.DataAsync(buffer, ct), message, "DATA", Failure);

    /// <summary>The transaction is abandoned whatever the handler says: a failure is only logged.</summary>
    public ValueTask ResetAsync()
    {
        ValueTask call;
        try
        {
            call = handler.ResetAsync(abort);
        }
        catch (Exception ex) when (!abort.IsCancellationRequested)
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
            await handler.DisposeAsync();
        }
        catch (Exception ex)
        {
            Failed("dispose", ex);
        }
    }

    /// <summary>
    /// Calls the handler (a static lambda and its arguments as a value: nothing allocated per command) and turns a
    /// failure, thrown at once or later, into <paramref name="failure"/>.
    /// </summary>
    private ValueTask<T> Invoke<TArgs, T>(Func<ISmtpSessionHandler, TArgs, CancellationToken, ValueTask<T>> call, TArgs args, string command, T failure)
    {
        ValueTask<T> pending;
        try
        {
            pending = call(handler, args, abort);
        }
        catch (Exception ex) when (!abort.IsCancellationRequested)
        {
            Failed(command, ex);
            return new(failure);
        }

        return pending.IsCompletedSuccessfully ? pending : GuardAsync(pending, command, failure);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<T> GuardAsync<T>(ValueTask<T> call, string command, T failure)
    {
        try
        {
            return await call;
        }
        catch (Exception ex) when (!abort.IsCancellationRequested)
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
        catch (Exception ex) when (!abort.IsCancellationRequested)
        {
            Failed(command, ex);
        }
    }

    private void Failed(string command, Exception ex) =>
        ServerLog.HandlerFailed(logger, info.SessionId, info.RemoteEndPoint, command, ex);
}
