using SmtpAmpProxy.Smtp.Protocol;

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
        await _transport.FlushAsync();

        if (_transport.BufferedAfterCommand > 0)
        {
            ServerLog.PlaintextAfterStartTls(_context.Logger, _info.SessionId, _info.RemoteEndPoint, _transport.BufferedAfterCommand);
        }

        await _transport.DiscardPlaintextAsync();

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

        var (tls, failure) = await _transport.StartTlsAsync(_context.TlsOptions);
        if (tls is null)
        {
            ServerLog.TlsHandshakeFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, failure!);
            return false;
        }

        _info.IsTls = true;
        ServerLog.TlsEstablished(_context.Logger, _info.SessionId, _info.RemoteEndPoint, tls.SslProtocol.ToString(), tls.NegotiatedCipherSuite.ToString());
        return true;
    }
}
