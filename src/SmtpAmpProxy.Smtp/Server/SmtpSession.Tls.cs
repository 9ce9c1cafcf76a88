using System.ComponentModel;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;

namespace SmtpAmpProxy.Smtp.Server;

internal sealed partial class SmtpSession
{
    private async ValueTask<Step> StartTlsCommandAsync()
    {
        if (_info.IsTls)
        {
            Reply(SmtpReplies.TlsActive);
            return Step.Stay;
        }

        if (_context.TlsOptions is null || _tlsMode == TlsMode.None)
        {
            Reply(SmtpReplies.TlsNotAvailable);
            return Step.Stay;
        }

        Reply(SmtpReplies.TlsReady);
        await FlushAsync();

        // CVE-2011-0411: anything the client sent after STARTTLS arrived in plaintext and may have been
        // injected by a man in the middle; completing the reader throws every buffered byte away.
        if (_bufferedAfterCommand > 0)
        {
            ServerLog.PlaintextAfterStartTls(_context.Logger, _info.SessionId, _info.RemoteEndPoint, _bufferedAfterCommand);
        }

        await _input.CompleteAsync();
        await _output.CompleteAsync();
        _bufferedAfterCommand = 0;

        // RFC 3207 4.2: the client must start over with EHLO; nothing learnt in plaintext survives.
        await AbandonTransactionAsync();
        _info.HeloName = null;
        _info.AuthenticatedUser = null;
        return await StartTlsAsync() ? Step.Advance : Step.Close;
    }

    private async ValueTask<bool> StartTlsAsync()
    {
        if (_context.TlsOptions is null)
        {
            ServerLog.TlsHandshakeFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "no certificate configured");
            return false;
        }

        var tls = new SslStream(_transport, leaveInnerStreamOpen: true);
        _timeout.CancelAfter(_options.CommandTimeout);
        string? failure = null;
        try
        {
            await tls.AuthenticateAsServerAsync(_context.TlsOptions, _timeout.Token);
        }
        catch (OperationCanceledException) when (_timeout.IsCancellationRequested)
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
            DisarmTimeout();
        }

        if (failure is not null)
        {
            ServerLog.TlsHandshakeFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, failure);
            await tls.DisposeAsync();
            return false;
        }

        _stream = tls;
        _input = PipeReader.Create(tls, ReaderOptions);
        _output = PipeWriter.Create(tls, WriterOptions);
        _info.IsTls = true;
        ServerLog.TlsEstablished(_context.Logger, _info.SessionId, _info.RemoteEndPoint, tls.SslProtocol.ToString(), tls.NegotiatedCipherSuite.ToString());
        if (_stopping)
        {
            CancelRead();
        }

        return true;
    }
}
