using System.Net;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>What a handler may know about its session. The server updates it as the session goes on.</summary>
public sealed record SmtpSessionInfo(long SessionId, IPEndPoint RemoteEndPoint, IPEndPoint LocalEndPoint)
{
    public string? HeloName { get; internal set; }

    public bool IsTls { get; internal set; }

    public string? AuthenticatedUser { get; internal set; }

    /// <summary>
    /// A PROXY header named no source (v1 UNKNOWN, v2 AF_UNSPEC/AF_UNIX): the address above is the
    /// balancer's own, so it must not grant relay by network (the real client may be anyone).
    /// </summary>
    public bool ClientAddressUnknown { get; init; }

    /// <summary>The client may relay without AUTH; set by <see cref="RelayAccessPolicy.ClientRelaysByNetwork"/> only.</summary>
    public bool RelayByNetwork { get; init; }
}

/// <summary>MAIL FROM parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8).</summary>
/// <param name="Raw">Everything after the address as sent, validated free of control characters.</param>
public sealed record MailParameters(long? Size, string? Body, bool SmtpUtf8, string Raw);

/// <summary>One per SMTP session; disposed when the session ends.</summary>
public interface ISmtpSessionHandler : IAsyncDisposable
{
    /// <summary>
    /// May EHLO offer SMTPUTF8 (RFC 6531) now? Asked at every EHLO and HELP. A sender that uses it where the
    /// last EHLO did not offer it gets 553 5.6.7 at MAIL. A relay answers for what comes after it.
    /// </summary>
    bool OffersSmtpUtf8 => true;

    /// <param name="reversePath">The sender, or "" for the null reverse path &lt;&gt;.</param>
    ValueTask<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct);

    ValueTask<SmtpReply> RcptAsync(string forwardPath, string rawParameters, CancellationToken ct);

    /// <summary>
    /// DATA was accepted and 354 is about to be sent: a relay may open its upstream DATA now, while the
    /// message arrives. A reply refuses DATA instead (the transaction stays open); null goes ahead.
    /// </summary>
    ValueTask<SmtpReply?> DataStartAsync(CancellationToken ct) => ValueTask.FromResult<SmtpReply?>(null);

    /// <param name="message">Dot-unstuffed, CRLF line ends, ends with CRLF (or empty).</param>
    ValueTask<SmtpReply> DataAsync(MessageBuffer message, CancellationToken ct);

    /// <summary>RSET, a new EHLO/HELO, STARTTLS, or a failed transaction: abandon the transaction.</summary>
    ValueTask ResetAsync(CancellationToken ct);
}

public interface ISmtpSessionHandlerFactory
{
    ISmtpSessionHandler Create(SmtpSessionInfo session);
}

public interface ISmtpAuthenticator
{
    /// <param name="session">Who is asking: its address, and whether the access policy lets it relay by network.</param>
    /// <returns>The user name on success, null on failure.</returns>
    ValueTask<string?> AuthenticateAsync(string user, string password, SmtpSessionInfo session, CancellationToken ct);
}
