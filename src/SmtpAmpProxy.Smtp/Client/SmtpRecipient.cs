namespace SmtpAmpProxy.Smtp;

/// <summary>One RCPT TO: the forward path and its parameters (e.g. "NOTIFY=NEVER"), as sent by the sender.</summary>
public readonly record struct SmtpRecipient(string Path, string? Parameters = null);

/// <summary>The replies to a pipelined MAIL and RCPTs, in order (one per recipient).</summary>
public sealed record SmtpEnvelopeReplies(SmtpReply Mail, IReadOnlyList<SmtpReply> Rcpts);

/// <summary>The replies to a whole transaction; <see cref="Data"/> is the final reply after the content, or DATA's refusal, or null when DATA was not sent (MAIL or every RCPT refused).</summary>
public sealed record SmtpTransactionReplies(SmtpReply Mail, IReadOnlyList<SmtpReply> Rcpts, SmtpReply? Data);
