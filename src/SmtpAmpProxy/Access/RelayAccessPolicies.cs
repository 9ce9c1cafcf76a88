using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Smtp.Access;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Access;

internal static class RelayAccessPolicies
{
    /// <summary>
    /// The one access policy of the appliance, from <c>Proxy:Access</c> and <c>Proxy:ProxyProtocol</c>. The
    /// SMTP server asks it at every relay decision and the authenticator asks it before accepting any
    /// credentials, so the two can never disagree about a client.
    /// </summary>
    public static RelayAccessPolicy FromOptions(ProxyOptions options) => new()
    {
        AllowedNetworks = [.. options.Access.EffectiveAllowedNetworks.Select(IpNetwork.Parse)],
        ProxyProtocolSources = [.. (options.ProxyProtocol.TrustedNetworks ?? []).Select(IpNetwork.Parse)],
        RequireAuth = options.Access.RequireAuth,
        AcceptAnyAuth = options.Access.AcceptAnyAuth,
    };
}
