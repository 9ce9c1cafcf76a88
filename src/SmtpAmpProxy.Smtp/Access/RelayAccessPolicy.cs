using System.Net;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Smtp.Access;

/// <summary>
/// Every decision about who may relay, in one place: which load balancers may name a client in a PROXY
/// header, which client addresses relay without AUTH, whether AUTH is required, and whether a client
/// that relays by network anyway may log in with any credentials. Each answer about a session rests on
/// the same fact, <see cref="SmtpSessionInfo.RelayByNetwork"/>, which only <see cref="ClientRelaysByNetwork"/>
/// computes: a client whose address is unknown (PROXY UNKNOWN, v2 LOCAL-less headers) never relays by
/// network, so it can neither relay nor log in on the strength of the balancer's own address.
/// </summary>
public sealed record RelayAccessPolicy
{
    /// <summary>Relays nobody without AUTH: what a server gets unless it names its senders.</summary>
    public static readonly RelayAccessPolicy Closed = new();

    /// <summary>Relay is allowed from these without AUTH; everyone else gets 554 5.7.1 at RCPT (no open relay).</summary>
    public IReadOnlyList<IpNetwork> AllowedNetworks { get; init; } = [];

    /// <summary>
    /// Load balancers allowed to send a PROXY header on a <see cref="SmtpListenerOptions.ProxyProtocol"/> listener.
    /// Anyone else could claim any address (and so pass the relay check), so their connections are closed.
    /// </summary>
    public IReadOnlyList<IpNetwork> ProxyProtocolSources { get; init; } = [];

    /// <summary>MAIL needs a successful AUTH first (530 5.7.0), whatever the client's network.</summary>
    public bool RequireAuth { get; init; }

    /// <summary>
    /// A client that may relay by network and insists on logging in is let in with any user name that is
    /// not a configured user: some legacy senders refuse to send unauthenticated.
    /// </summary>
    public bool AcceptAnyAuth { get; init; }

    public bool TrustsProxyHeaderFrom(IPAddress peer) => InAny(ProxyProtocolSources, peer);

    /// <param name="clientAddressUnknown">A PROXY header named no source: the address is the balancer's own.</param>
    public bool ClientRelaysByNetwork(IPAddress client, bool clientAddressUnknown) =>
        !clientAddressUnknown && InAny(AllowedNetworks, client);

    /// <summary>RCPT: authenticated, or on an allowed network when AUTH is not required.</summary>
    public bool MayRelay(SmtpSessionInfo session) =>
        session.AuthenticatedUser is not null || (!RequireAuth && session.RelayByNetwork);

    /// <summary>AUTH with a user name the server does not know: accepted only where relay needs no AUTH anyway.</summary>
    public bool AcceptsAnyCredentials(SmtpSessionInfo session) => AcceptAnyAuth && session.RelayByNetwork;

    private static bool InAny(IReadOnlyList<IpNetwork> networks, IPAddress address)
    {
        foreach (var network in networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
