using System.Buffers;
using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>How the DATA phase ended.</summary>
/// <param name="Outcome"><see cref="ReadOutcome.Data"/>: the message ended at CRLF.CRLF; else why the wait for it ended.</param>
/// <param name="SenderLeft">The peer closed its side mid-message (already logged as a vanished sender).</param>
/// <param name="Refusal">The message ended but must not be relayed: over a limit, not stored, or malformed line ends.</param>
internal readonly record struct DataReceipt(ReadOutcome Outcome, bool SenderLeft, EncodedReply? Refusal);

/// <summary>
/// Takes in one message after 354: feeds the bytes through <see cref="SmtpDataReader"/> (end of data,
/// dot-unstuffing, size and header limits, bare CR/LF) into the <see cref="MessageBuffer"/>, which spills to
/// disk past its memory share, with every read held to the DATA limits of <see cref="SessionTimeoutControl"/>.
/// </summary>
internal sealed class DataReceiver(SmtpServerContext context, SmtpSessionInfo info, SessionTransport transport, SessionTimeoutControl timeouts)
{
    // Message bytes a session takes in before it lets its thread serve other sessions: about 0.1 ms of work.
    private const int DataBytesBetweenYields = 256 * 1024;

    public async ValueTask<DataReceipt> ReceiveAsync(MessageBuffer message)
    {
        var options = context.Options;
        var reader = new SmtpDataReader(message, options.MaxMessageBytes, options.BareLineFeed, options.MaxHeaderBytes, options.BareCarriageReturn);
        timeouts.StartData();
        long sinceYield = 0;
        while (true)
        {
            await transport.FlushBeforeReadAsync();
            timeouts.DataReceived(reader.MessageBytes);
            var (outcome, result) = await transport.ReadAsync(timeouts.NextReadTimeout(), idle: false);
            if (outcome != ReadOutcome.Data)
            {
                if (outcome == ReadOutcome.TimedOut && timeouts.Limit == SessionTimeout.DataRate)
                {
                    ServerLog.DataTooSlow(context.Logger, info.SessionId, info.RemoteEndPoint, options.MinDataRateBytesPerSecond,
                        reader.MessageBytes, timeouts.DataElapsed.TotalSeconds);
                }
                else if (outcome == ReadOutcome.Closed)
                {
                    LogSenderVanished(reader);
                }

                return new DataReceipt(outcome, false, null);
            }

            var buffer = result.Buffer;
            if (Feed(reader, buffer, out var end))
            {
                transport.Take(buffer, end);
                break;
            }

            transport.NeedMore(buffer, buffer.End);
            if (result.IsCompleted)
            {
                LogSenderVanished(reader);
                return new DataReceipt(ReadOutcome.Closed, true, null);
            }

            sinceYield += buffer.Length;
            if (sinceYield >= DataBytesBetweenYields)
            {
                // While the socket has data, reads complete at once and this loop never gives the event thread
                // back: a sender's megabytes already in the socket buffers would hold up every session it serves.
                sinceYield = 0;
                await Task.Yield();
            }
        }

        var stored = reader.Overflowed || reader.HeaderOverflowed || message.Seal();
        var refusal = reader.Overflowed ? SmtpReplies.SizeExceeded
            : reader.HeaderOverflowed ? SmtpReplies.HeaderSizeExceeded
            : !stored ? SmtpReplies.InsufficientStorage
            : reader.SawBareCr ? SmtpReplies.BareCr
            : reader.SawRejectedBareLf ? SmtpReplies.BareLf
            : null;
        if (!stored)
        {
            // The session stays usable: the next message may fit in memory, or the disk may have room again.
            ServerLog.SpillFailed(context.Logger, info.SessionId, info.RemoteEndPoint, context.Spill.Path, message.StorageError ?? "");
        }

        if (refusal is not null)
        {
            ServerLog.MessageRefused(context.Logger, info.SessionId, info.RemoteEndPoint, refusal.Reply.Text);
        }

        return new DataReceipt(ReadOutcome.Data, false, refusal);
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

    /// <summary>
    /// A sender that disconnects (or whose connection breaks) inside DATA is a message that was not sent, which an
    /// operator wants to see next to the relayed and refused ones, not only as a debug-level lost connection.
    /// </summary>
    private void LogSenderVanished(SmtpDataReader reader) =>
        ServerLog.SenderVanishedInData(context.Logger, "sender-vanished", info.SessionId, info.RemoteEndPoint,
            reader.MessageBytes, timeouts.DataElapsed.TotalSeconds);
}
