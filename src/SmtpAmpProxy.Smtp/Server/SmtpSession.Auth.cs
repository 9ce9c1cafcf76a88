using System.Buffers;
using System.Text;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>AUTH PLAIN (RFC 4616) and LOGIN, with or without an initial response (RFC 4954 4).</summary>
internal sealed partial class SmtpSession
{
    private async ValueTask<Step> AuthAsync(SmtpCommand command)
    {
        var authenticator = _options.Authenticator;
        if (authenticator is null || (!_info.IsTls && !_options.AllowAuthWithoutTls))
        {
            Reply(SmtpReplies.AuthNotEnabled);
            return Step.Stay;
        }

        if (_info.AuthenticatedUser is not null)
        {
            Reply(SmtpReplies.AlreadyAuthenticated);
            return Step.Stay;
        }

        // An address over its own ceiling is not even asked for credentials: a guesser learns nothing more until
        // the window passes.
        if (_context.AuthThrottle.IsLockedOut(_info.RemoteEndPoint.Address))
        {
            ServerLog.AuthLockedOut(_context.Logger, _info.SessionId, _info.RemoteEndPoint);
            Reply(_replies.TooManyAuthFailures);
            return Step.Close;
        }

        _timeouts.StartAuthExchange();

        var mechanism = command.Argument!;
        string? user;
        string? password;
        if (mechanism == "PLAIN")
        {
            var response = command.Parameters;
            if (response is null)
            {
                Reply(SmtpReplies.AuthEmptyChallenge);
                var (outcome, line) = await ReadAuthLineAsync();
                if (line is null)
                {
                    await EndAfterReadAsync(outcome);
                    return Step.Close;
                }

                response = line;
            }

            if (response == "*")
            {
                Reply(SmtpReplies.AuthAborted);
                return Step.Stay;
            }

            if (!TryDecodePlain(response, out user, out password))
            {
                Reply(SmtpReplies.AuthDecode);
                return Step.Stay;
            }
        }
        else if (mechanism == "LOGIN")
        {
            var userResponse = command.Parameters;
            if (userResponse is null)
            {
                Reply(SmtpReplies.AuthUsername);
                var (outcome, line) = await ReadAuthLineAsync();
                if (line is null)
                {
                    await EndAfterReadAsync(outcome);
                    return Step.Close;
                }

                userResponse = line;
            }

            if (userResponse == "*")
            {
                Reply(SmtpReplies.AuthAborted);
                return Step.Stay;
            }

            user = DecodeBase64Utf8(userResponse);
            if (user is null)
            {
                Reply(SmtpReplies.AuthDecode);
                return Step.Stay;
            }

            Reply(SmtpReplies.AuthPassword);
            var (passwordOutcome, passwordLine) = await ReadAuthLineAsync();
            if (passwordLine is null)
            {
                await EndAfterReadAsync(passwordOutcome);
                return Step.Close;
            }

            if (passwordLine == "*")
            {
                Reply(SmtpReplies.AuthAborted);
                return Step.Stay;
            }

            password = DecodeBase64Utf8(passwordLine);
            if (password is null)
            {
                Reply(SmtpReplies.AuthDecode);
                return Step.Stay;
            }
        }
        else
        {
            Reply(SmtpReplies.AuthMechanism);
            return Step.Stay;
        }

        // A user name that failed too often from this address is refused before its password is checked; other
        // users behind the same address are not.
        if (user is not null && _context.AuthThrottle.IsLockedOut(_info.RemoteEndPoint.Address, user))
        {
            ServerLog.AuthLockedOut(_context.Logger, _info.SessionId, _info.RemoteEndPoint);
            Reply(_replies.TooManyAuthFailures);
            return Step.Close;
        }

        string? authenticated = null;
        if (user is not null && password is not null)
        {
            try
            {
                authenticated = await authenticator.AuthenticateAsync(user, password, _info, _abort.Token);
            }
            catch (Exception ex) when (!_abort.IsCancellationRequested)
            {
                ServerLog.HandlerFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, "AUTH", ex);
                Reply(SmtpReplies.InternalError);
                return Step.Stay;
            }
        }

        if (authenticated is null)
        {
            ServerLog.AuthFailed(_context.Logger, _info.SessionId, _info.RemoteEndPoint, mechanism);
            var (delay, lockedOut) = _context.AuthThrottle.RecordFailure(_info.RemoteEndPoint.Address, user);
            if (lockedOut)
            {
                ServerLog.AuthLockedOut(_context.Logger, _info.SessionId, _info.RemoteEndPoint);
                Reply(_replies.TooManyAuthFailures);
                return Step.Close;
            }

            if (delay > TimeSpan.Zero)
            {
                // Postfix's smtpd_error_sleep_time, growing: each guess past the first few costs the guesser more time.
                await Task.Delay(delay, _context.Time, _abort.Token);
            }

            Reply(SmtpReplies.AuthFailed);
            return Step.Stay;
        }

        _info.AuthenticatedUser = authenticated;
        ServerLog.AuthSucceeded(_context.Logger, _info.SessionId, _info.RemoteEndPoint, authenticated, mechanism);
        Reply(SmtpReplies.AuthOk);
        return Step.Advance;
    }

    /// <summary>
    /// Reads one AUTH response line (RFC 4954 4), by the deadline of the whole AUTH exchange and within the command
    /// timeout. Null line: the read failed with the outcome given.
    /// </summary>
    private async ValueTask<(ReadOutcome Outcome, string? Line)> ReadAuthLineAsync()
    {
        _timeouts.StartAuthLine();
        while (true)
        {
            await _transport.FlushAsync();
            var (outcome, result) = await _transport.ReadAsync(_timeouts.NextReadTimeout(), IsIdle);
            if (outcome != ReadOutcome.Data)
            {
                if (outcome == ReadOutcome.TimedOut && _timeouts.Limit == SessionTimeout.Auth)
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
                _transport.Take(buffer, reader.Position);
                return (ReadOutcome.Data, text ?? string.Empty);
            }

            if (buffer.Length >= _options.MaxCommandLineBytes)
            {
                _transport.Take(buffer, buffer.End);
                _discardingLine = true;
                return (ReadOutcome.Data, string.Empty);
            }

            _transport.NeedMore(buffer, buffer.Start);
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

        return Encoding.ASCII.GetString(bytes);
    }

    /// <summary>
    /// RFC 4616: [authzid] NUL authcid NUL passwd. An authorization identity other than the user is refused
    /// (as a failed login, not a decode error): acting for someone else is not offered.
    /// </summary>
    internal static bool TryDecodePlain(string response, out string? user, out string? password)
    {
        user = null;
        password = null;
        if (response == "=")
        {
            return false;
        }

        var bytes = DecodeBase64(response);
        if (bytes is null)
        {
            return false;
        }

        var first = Array.IndexOf(bytes, (byte)0);
        var second = first < 0 ? -1 : Array.IndexOf(bytes, (byte)0, first + 1);
        if (second < 0 || Array.IndexOf(bytes, (byte)0, second + 1) >= 0)
        {
            return false;
        }

        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        try
        {
            var authorization = strict.GetString(bytes, 0, first);
            user = strict.GetString(bytes, first + 1, second - first - 1);
            password = strict.GetString(bytes, second + 1, bytes.Length - second - 1);
            if (authorization.Length > 0 && authorization != user)
            {
                user = null;
                password = null;
            }

            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static string? DecodeBase64Utf8(string response)
    {
        var bytes = response == "=" ? [] : DecodeBase64(response);
        if (bytes is null)
        {
            return null;
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static byte[]? DecodeBase64(string text)
    {
        var bytes = new byte[((text.Length + 3) / 4) * 3];
        return Convert.TryFromBase64String(text, bytes, out var written) ? bytes[..written] : null;
    }
}
