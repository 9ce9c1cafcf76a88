using System.Net;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Smtp;

namespace SmtpAmpProxy.Access;

/// <summary>
/// AUTH against the users in <c>Proxy:Access:Users</c>. With <c>AcceptAnyAuth</c>, a client on an
/// allowed network that insists on logging in is let in whatever it sends: it could relay without
/// AUTH anyway, and some legacy senders refuse to send unauthenticated.
/// </summary>
internal sealed class ConfiguredAuthenticator : ISmtpAuthenticator
{
    private readonly Dictionary<string, string> _hashes;
    private readonly bool _acceptAny;
    private readonly IReadOnlyList<IpNetwork> _allowed;

    public ConfiguredAuthenticator(AccessOptions access)
    {
        _hashes = (access.Users ?? []).ToDictionary(u => u.Name, u => u.PasswordHash, StringComparer.Ordinal);
        _acceptAny = access.AcceptAnyAuth;
        _allowed = [.. access.EffectiveAllowedNetworks.Select(IpNetwork.Parse)];
    }

    public async ValueTask<string?> AuthenticateAsync(string user, string password, IPAddress client, CancellationToken ct)
    {
        if (_hashes.TryGetValue(user, out var hash))
        {
            // PBKDF2 costs tens of milliseconds by design: not on a socket event thread.
            await SocketCompletions.LeaveEventThreadAsync().ConfigureAwait(false);
            return PasswordHash.Verify(password, hash) ? user : null;
        }

        return _acceptAny && _allowed.Any(network => network.Contains(client)) ? user : null;
    }
}
