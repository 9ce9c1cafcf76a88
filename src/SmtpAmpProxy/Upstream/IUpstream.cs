using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Upstream;

/// <summary>Where relayed mail goes: SendGrid over SMTP, or a folder for trying the proxy out.</summary>
internal interface IUpstream
{
    /// <summary>A transaction for one sender's mail; nothing is opened upstream until its MAIL.</summary>
    IUpstreamTransaction Begin(SmtpSessionInfo session);

    /// <summary>What readiness asks about the upstream; null for the file-drop upstream.</summary>
    UpstreamHealth? Health { get; }

    /// <summary>Whether senders may be offered SMTPUTF8 (RFC 6531): only when what comes after the proxy takes it.</summary>
    bool OffersSmtpUtf8 { get; }
}

/// <summary>
/// One mail transaction mirrored to the upstream. Every failure comes back as the reply the sender is to
/// get, with <see cref="Fault"/> naming an upstream fault when the proxy made that reply itself.
/// Disposing ends what is unfinished without a message.
/// </summary>
internal interface IUpstreamTransaction : IAsyncDisposable
{
    /// <summary>Set when the last reply was made by the proxy because the upstream failed; null for the upstream's own replies.</summary>
    UpstreamFault? Fault { get; }

    /// <summary>
    /// The envelope sender. An upstream may hold it and send it with the first recipient; a refusal then
    /// comes back as that recipient's reply.
    /// </summary>
    Task<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct);

    Task<SmtpReply> RcptAsync(string forwardPath, CancellationToken ct);

    /// <summary>The sender said DATA: the upstream may open its DATA now, while the message arrives. A reply refuses DATA; null goes ahead.</summary>
    Task<SmtpReply?> BeginDataAsync(CancellationToken ct);

    Task<SmtpReply> DataAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct);
}

/// <summary>An upstream failure the proxy answered for: the kind (a metric tag) and a reason free of secrets.</summary>
internal sealed record UpstreamFault(string Kind, string Stage, bool IsTimeout, string Reason);
