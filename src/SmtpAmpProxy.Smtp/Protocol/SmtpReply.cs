namespace SmtpAmpProxy.Smtp.Protocol;

/// <summary>An SMTP reply (RFC 5321 4.2) with its RFC 3463 enhanced status code.</summary>
/// <param name="Code">The three-digit reply code.</param>
/// <param name="EnhancedCode">"2.0.0" and the like, or "" when the reply carries none.</param>
/// <param name="Text">Reply text; several lines are separated by '\n'.</param>
public readonly record struct SmtpReply(int Code, string EnhancedCode, string Text)
{
    public bool IsPositive => Code is >= 200 and < 400;

    public bool IsTransientFailure => Code is >= 400 and < 500;

    public bool IsPermanentFailure => Code >= 500;

    public override string ToString() =>
        EnhancedCode.Length == 0 ? $"{Code} {Text}" : $"{Code} {EnhancedCode} {Text}";
}
