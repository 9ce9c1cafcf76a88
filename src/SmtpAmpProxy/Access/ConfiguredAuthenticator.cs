using System.Net;
using SmtpAmpProxy.Configuration;
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

    public ValueTask<string?> AuthenticateAsync(string user, string password, IPAddress client, CancellationToken ct)
    {
        if (_hashes.TryGetValue(user, out var hash))
        {
            return ValueTask.FromResult(PasswordHash.Verify(password, hash) ? user : null);
        }

        if (_acceptAny && _allowed.Any(network => network.Contains(client)))
        {
            return ValueTask.FromResult<string?>(user);
        }

        return ValueTask.FromResult<string?>(null);
    }
}
