using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Quarantine;

/// <summary>Why a message was refused: what the <c>.json</c> beside its <c>.eml</c> says.</summary>
internal sealed record QuarantineRecord(
    long SessionId,
    string Client,
    string Sender,
    IReadOnlyList<string> Recipients,
    string? MessageId,
    string? Code,
    string? Reason,
    SmtpReply Reply);
