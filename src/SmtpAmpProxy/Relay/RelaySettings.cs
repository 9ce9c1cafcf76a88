using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Quarantine;

namespace SmtpAmpProxy.Relay;

/// <summary>What every relay session needs, built once from the options.</summary>
internal sealed record RelaySettings(
    string ServerName,
    MimeLimits MimeLimits,
    AmpOptions Amp,
    bool AddReceivedHeader,
    IReadOnlySet<string> AllowedSenderDomains,
    DkimOptions Dkim,
    DkimKeyRing DkimKeys)
{
    /// <summary>Null: rejected messages are not kept.</summary>
    public MessageQuarantine? Quarantine { get; init; }

    /// <summary>True: each relayed message carries its outcome in X-SMTPAPI unique_args (Webhook/SmtpApiTag).</summary>
    public bool TagMessages { get; init; }

    /// <summary>An empty set allows every sender domain.</summary>
    public bool IsSenderAllowed(string reversePath)
    {
        if (AllowedSenderDomains.Count == 0)
        {
            return true;
        }

        var at = reversePath.LastIndexOf('@');
        return at > 0 && AllowedSenderDomains.Contains(reversePath[(at + 1)..]);
    }
}
