using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Relay;

/// <summary>The replies the relay makes itself; everything else a sender hears from the relay is the upstream's.</summary>
internal static class RelayReplies
{
    public static readonly SmtpReply Unreachable = new(451, "4.4.1", "Upstream relay unreachable, try again later");
    public static readonly SmtpReply Lost = new(451, "4.4.2", "Upstream relay connection lost, try again later");

    /// <summary>A replayed envelope was answered differently: a 250 now could hide a recipient the upstream no longer takes.</summary>
    public static readonly SmtpReply ReplayDiffered = new(451, "4.4.0", "Upstream relay answered the envelope differently on a new connection, try again later");

    /// <summary>The upstream broke SMTP's framing (a reply ahead of its command); what it says cannot be attributed.</summary>
    public static readonly SmtpReply Protocol = new(451, "4.4.0", "Upstream relay protocol error, try again later");

    public static readonly SmtpReply UpstreamAuth = new(451, "4.7.0", "Upstream relay refuses this proxy's credentials, try again later");
    public static readonly SmtpReply ClientShare = new(451, "4.7.1", "Too many concurrent transactions from your address, try again later");
    public static readonly SmtpReply PoolBusy = new(451, "4.4.5", "Upstream relay busy, try again later");
    /// <summary>
    /// SMTPUTF8 was offered at this session's EHLO, from an older view of the upstream, and the connection in hand
    /// lacks it. Transient: the upstream may be changing under the proxy, and a sender told 5xx would bounce mail
    /// that a retry delivers; a sender that retries after the upstream really dropped it is no longer offered
    /// SMTPUTF8 at EHLO and hears 553 5.6.7 at MAIL from the server.
    /// </summary>
    public static readonly SmtpReply Utf8NotOffered = new(451, "4.3.0", "Error: the upstream relay no longer offers SMTPUTF8, try again later");

    public static readonly SmtpReply NoTransaction = new(503, "5.5.1", "Error: need MAIL command");
    public static readonly SmtpReply MailAccepted = new(250, "2.1.0", "Ok");
}
