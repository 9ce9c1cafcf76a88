using System.Net;
using System.Net.Sockets;

namespace SmtpAmpProxy.Access;

/// <summary>
/// Which of the networks allowed to relay without AUTH are broad enough to be a risk: more than one IPv4 /24 or
/// IPv6 /64 outside loopback. Behind source NAT, a load balancer or a container network, outside clients appear
/// with addresses from such ranges, and the proxy relays for them on a paid sending account.
/// </summary>
internal static class RelayExposure
{
    /// <summary>A /24 is one subnet of senders; anything wider is several, or somebody else's too.</summary>
    private const int NarrowestBroadIPv4 = 24;

    private const int NarrowestBroadIPv6 = 64;

    public static IReadOnlyList<string> BroadNetworks(IEnumerable<string> allowedNetworks)
    {
        var broad = new List<string>();
        foreach (var text in allowedNetworks)
        {
            if (!IPNetwork.TryParse(text, out var network) || IPAddress.IsLoopback(network.BaseAddress))
            {
                continue;
            }

            var narrowest = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? NarrowestBroadIPv4 : NarrowestBroadIPv6;
            if (network.PrefixLength < narrowest)
            {
                broad.Add(network.ToString());
            }
        }

        return broad;
    }
}
