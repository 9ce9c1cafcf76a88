using SmtpAmpProxy.Smtp;

namespace SmtpAmpProxy.Upstream;

/// <summary>Where relayed mail goes: SendGrid over SMTP, or a folder for trying the proxy out.</summary>
internal interface IUpstream
{
    /// <summary>Opens a transaction; throws <see cref="SmtpConnectionException"/> when the upstream cannot be reached.</summary>
    ValueTask<IUpstreamTransaction> BeginAsync(CancellationToken ct);
}

/// <summary>
/// One mail transaction mirrored to the upstream. Refused commands come back as replies;
/// a lost connection as <see cref="SmtpConnectionException"/>. Disposing abandons what is unfinished.
/// </summary>
internal interface IUpstreamTransaction : IAsyncDisposable
{
    /// <summary>EHLO keywords of the upstream, to decide which MAIL parameters to pass on.</summary>
    IReadOnlySet<string> Extensions { get; }

    /// <summary>
    /// The envelope sender. An upstream may take it now or, to save a round trip, hold it and send it
    /// together with the first recipient; a refusal then comes back as that recipient's reply.
    /// </summary>
    Task<SmtpReply> MailAsync(string reversePath, string? parameters, CancellationToken ct);

    Task<SmtpReply> RcptAsync(string forwardPath, CancellationToken ct);

    /// <summary>The sender said DATA: the upstream may open its DATA now, while the message is still arriving.</summary>
    Task BeginDataAsync(CancellationToken ct);

    Task<SmtpReply> DataAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct);

    /// <summary>Ends the transaction without a message (RSET upstream), keeping the connection if it is sound.</summary>
    Task AbandonAsync(CancellationToken ct);
}
