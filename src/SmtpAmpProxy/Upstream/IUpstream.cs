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

    Task<SmtpReply> MailAsync(string reversePath, string? parameters, CancellationToken ct);

    Task<SmtpReply> RcptAsync(string forwardPath, CancellationToken ct);

    Task<SmtpReply> DataAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct);

    /// <summary>Ends the transaction without a message (RSET upstream), keeping the connection if it is sound.</summary>
    Task AbandonAsync(CancellationToken ct);
}
