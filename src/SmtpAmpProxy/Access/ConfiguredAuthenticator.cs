using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Smtp;

namespace SmtpAmpProxy.Access;

/// <summary>
/// AUTH against the users in <c>Proxy:Access:Users</c>. Any other user name is accepted only where the
/// access policy says so (<c>AcceptAnyAuth</c>, for a client that could relay without AUTH anyway).
/// </summary>
internal sealed class ConfiguredAuthenticator : ISmtpAuthenticator
{
    private readonly Dictionary<string, string> _hashes;
    private readonly RelayAccessPolicy _policy;

    public ConfiguredAuthenticator(AccessOptions access, RelayAccessPolicy policy)
    {
        _hashes = (access.Users ?? []).ToDictionary(u => u.Name, u => u.PasswordHash, StringComparer.Ordinal);
        _policy = policy;
    }

    public async ValueTask<string?> AuthenticateAsync(string user, string password, SmtpSessionInfo session, CancellationToken ct)
    {
        if (_hashes.TryGetValue(user, out var hash))
        {
            // PBKDF2 costs tens of milliseconds by design: not on a socket event thread.
            await SocketCompletions.LeaveEventThreadAsync().ConfigureAwait(false);
            return PasswordHash.Verify(password, hash) ? user : null;
        }

        return _policy.AcceptsAnyCredentials(session) ? user : null;
    }
}
