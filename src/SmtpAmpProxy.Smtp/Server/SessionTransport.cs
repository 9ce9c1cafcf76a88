using System.Buffers;
using System.ComponentModel;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

internal enum ReadOutcome
{
    Data,
    Closed,
    TimedOut,
    Stopped,
}

/// <summary>
/// A session's byte stream (plain, then TLS after STARTTLS) as a pipe pair, with every read and flush held to
/// the deadline <see cref="SessionTimeoutControl"/> arms, and the stop signals that wake a waiting read.
/// Replies are buffered and flushed only when no further command is already buffered, or before waiting for
/// input (RFC 2920 3.2): a pipelined batch gets its replies in one write.
/// </summary>
internal sealed class SessionTransport
{
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: true);
    private static readonly StreamPipeWriterOptions WriterOptions = new(leaveOpen: true);

    private readonly Stream _transport;
    private readonly SessionTimeoutControl _timeouts;
    private Stream _stream;
    private PipeReader _input;
    private PipeWriter _output;
    private bool _outputPending;

    // The next read waits for the client: nothing was left after the last command taken, or what was left was
    // not a whole one.
    private bool _readWaits = true;
    private volatile bool _stopping;
    private volatile bool _hardStop;

    public SessionTransport(Stream transport, SessionTimeoutControl timeouts)
    {
        _transport = transport;
        _timeouts = timeouts;
        _stream = transport;
        _input = PipeReader.Create(transport, ReaderOptions);
        _output = PipeWriter.Create(transport, WriterOptions);
    }

    /// <summary>The peer went away or the session was aborted: nothing more can be said on this connection.</summary>
    public static bool IsConnectionFailure(Exception ex) =>
        ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or AuthenticationException;

    /// <summary>A graceful stop was asked for: an idle session ends at its next wait.</summary>
    public bool Stopping => _stopping;

    /// <summary>Bytes the client sent after the last command or line taken: zero means the next read waits.</summary>
    public long BufferedAfterCommand { get; private set; }

    public bool IsDrained => BufferedAfterCommand == 0;

    public void Write(ReadOnlySpan<byte> encoded)
    {
        _output.Write(encoded);
        _outputPending = true;
    }

    public void Write(in SmtpReply reply)
    {
        SmtpReplyWriter.Write(_output, reply);
        _outputPending = true;
    }

    public ValueTask FlushAsync() => _outputPending ? FlushPendingAsync() : default;

    /// <summary>Flushes the replies when the next read will wait for the client, and only then (RFC 2920 3.2).</summary>
    public ValueTask FlushBeforeReadAsync() => _readWaits ? FlushAsync() : default;

    /// <summary>
    /// Waits for input for at most <paramref name="timeout"/> (zero: the deadline has passed). A stop wakes the
    /// wait: a hard stop always ends it, a graceful one only when <paramref name="idle"/> (between transactions).
    /// </summary>
    public async ValueTask<(ReadOutcome Outcome, ReadResult Result)> ReadAsync(TimeSpan timeout, bool idle)
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
            var token = _timeouts.Arm(timeout);
            try
            {
                result = await _input.ReadAsync(token);
            }
            catch (OperationCanceledException) when (_timeouts.Expired)
            {
                // A fresh timer for what follows: the closing 421's flush must not start with this fired one,
                // or a client whose receive buffer is full never gets it.
                _timeouts.Disarm();
                return (ReadOutcome.TimedOut, default);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                _timeouts.Disarm();
                return (ReadOutcome.Closed, default);
            }

            _timeouts.Disarm();
            if (result.IsCanceled)
            {
                _input.AdvanceTo(result.Buffer.Start);
                if (_hardStop || (_stopping && idle))
                {
                    return (ReadOutcome.Stopped, default);
                }

                continue;
            }

            return (ReadOutcome.Data, result);
        }
    }

    /// <summary>A command, line or message was taken up to <paramref name="consumed"/>; the rest stays buffered.</summary>
    public void Take(in ReadOnlySequence<byte> buffer, SequencePosition consumed)
    {
        _input.AdvanceTo(consumed);
        BufferedAfterCommand = buffer.Slice(consumed).Length;
        _readWaits = BufferedAfterCommand == 0;
    }

    /// <summary>Nothing complete yet: <paramref name="consumed"/> is used up, the next read waits for more than <paramref name="buffer"/>.</summary>
    public void NeedMore(in ReadOnlySequence<byte> buffer, SequencePosition consumed)
    {
        _input.AdvanceTo(consumed, buffer.End);
        _readWaits = true;
    }

    public void RequestStop()
    {
        _stopping = true;
        CancelRead();
    }

    public void Abort()
    {
        _hardStop = true;
        _stopping = true;
        CancelRead();
    }

    /// <summary>
    /// Ends the plaintext pipes before a TLS handshake. CVE-2011-0411: anything the client sent after STARTTLS
    /// arrived in plaintext and may have been injected by a man in the middle; completing the reader throws
    /// every buffered byte away.
    /// </summary>
    public async ValueTask DiscardPlaintextAsync()
    {
        await _input.CompleteAsync();
        await _output.CompleteAsync();
        BufferedAfterCommand = 0;
        _readWaits = true;
    }

    /// <summary>The TLS handshake, within the command timeout. Null reason: the pipes now run over TLS.</summary>
    public async ValueTask<(SslStream? Tls, string? Failure)> StartTlsAsync(SslServerAuthenticationOptions options)
    {
        var tls = new SslStream(_transport, leaveInnerStreamOpen: true);
        var token = _timeouts.ArmWrite();
        string? failure = null;
        try
        {
            await tls.AuthenticateAsServerAsync(options, token);
        }
        catch (OperationCanceledException) when (_timeouts.Expired)
        {
            failure = "timeout";
        }
        catch (AuthenticationException ex)
        {
            failure = ex.InnerException?.Message ?? ex.Message;
        }
        catch (Exception ex) when (ex is IOException or Win32Exception or ObjectDisposedException)
        {
            failure = ex.Message;
        }
        finally
        {
            _timeouts.Disarm();
        }

        if (failure is not null)
        {
            await tls.DisposeAsync();
            return (null, failure);
        }

        _stream = tls;
        _input = PipeReader.Create(tls, ReaderOptions);
        _output = PipeWriter.Create(tls, WriterOptions);
        if (_stopping)
        {
            CancelRead();
        }

        return (tls, null);
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

    public async ValueTask CloseAsync()
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

    private async ValueTask FlushPendingAsync()
    {
        _outputPending = false;
        var token = _timeouts.ArmWrite();
        try
        {
            await _output.FlushAsync(token);
        }
        finally
        {
            _timeouts.Disarm();
        }
    }
}
