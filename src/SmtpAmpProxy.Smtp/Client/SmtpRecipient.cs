using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>One RCPT TO: the forward path and its parameters (e.g. "NOTIFY=NEVER"), as sent by the sender.</summary>
public readonly record struct SmtpRecipient(string Path, string? Parameters = null);

/// <summary>
/// The replies to MAIL, the RCPTs (one per recipient sent; none when MAIL was refused without PIPELINING)
/// and DATA (null when not sent).
/// </summary>
public sealed record SmtpEnvelopeReplies(SmtpReply Mail, IReadOnlyList<SmtpReply> Rcpts, SmtpReply? Data);
