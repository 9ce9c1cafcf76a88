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
internal sealed class DataReceiver
{
    // Message bytes a session takes in before it lets its thread serve other sessions: about 0.1 ms of work.
    private const int DataBytesBetweenYields = 256 * 1024;

    private readonly SmtpServerContext _context;
    private readonly SmtpSessionInfo _info;
    private readonly SessionTransport _transport;
    private readonly SessionTimeoutControl _timeouts;

    public DataReceiver(SmtpServerContext context, SmtpSessionInfo info, SessionTransport transport, SessionTimeoutControl timeouts)
    {
        _context = context;
        _info = info;
        _transport = transport;
        _timeouts = timeouts;
    }

    public async ValueTask<DataReceipt> ReceiveAsync(MessageBuffer message)
    {
        var options = _context.Options;
        var reader = new SmtpDataReader(message, options.MaxMessageBytes, options.BareLineFeed, options.MaxHeaderBytes, options.BareCarriageReturn);
        var drained = _transport.IsDrained;
        _timeouts.StartData();
        long sinceYield = 0;
        while (true)
        {
            if (drained)
            {
                await _transport.FlushAsync();
            }

            _timeouts.DataReceived(reader.MessageBytes);
            var (outcome, result) = await _transport.ReadAsync(_timeouts.NextReadTimeout(), idle: false);
            if (outcome != ReadOutcome.Data)
            {
                if (outcome == ReadOutcome.TimedOut && _timeouts.Limit == SessionTimeout.DataRate)
                {
                    ServerLog.DataTooSlow(_context.Logger, _info.SessionId, _info.RemoteEndPoint, options.MinDataRateBytesPerSecond,
                        reader.MessageBytes, _timeouts.DataElapsed.TotalSeconds);
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
                _transport.Take(buffer, end);
                break;
            }

            _transport.NeedMore(buffer, buffer.End);
            if (result.IsCompleted)
            {
                LogSenderVanished(reader);
                return new DataReceipt(ReadOutcome.Closed, true, null);
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
            ServerLog.SpillFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, _context.Spill.Path, message.StorageError ?? "");
        }

        if (refusal is not null)
        {
            ServerLog.MessageRefused(_context.Logger, _info.SessionId, _info.RemoteEndPoint, refusal.Reply.Text);
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
        ServerLog.SenderVanishedInData(_context.Logger, "sender-vanished", _info.SessionId, _info.RemoteEndPoint,
            reader.MessageBytes, _timeouts.DataElapsed.TotalSeconds);
}
