using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Normalizer.Results;

public sealed class NormalizationResult
{
    private static readonly IReadOnlyList<AmpAction> NoActions = [];
    private static readonly IReadOnlyList<AmpFinding> NoFindings = [];

    internal NormalizationResult(
        AmpVerdict verdict,
        string? rejectCode,
        string? rejectText,
        IReadOnlyList<AmpAction>? actions,
        IReadOnlyList<AmpFinding>? warnings,
        MimeParseResult? parsed,
        MimeRewrite rewrite,
        bool hasAmp)
    {
        Verdict = verdict;
        RejectCode = rejectCode;
        RejectText = rejectText;
        Actions = actions is { Count: > 0 } ? actions : NoActions;
        Warnings = warnings is { Count: > 0 } ? warnings : NoFindings;
        Parsed = parsed;
        Rewrite = rewrite;
        HasAmp = hasAmp;
    }

    public AmpVerdict Verdict { get; }

    /// <summary>Rule code on Reject ("amp-misplaced", ..., or "mime-limit"); null otherwise.</summary>
    public string? RejectCode { get; }

    /// <summary>One line of printable ASCII, at most <see cref="MaxRejectTextLength"/> characters: safe
    /// to place after "554 5.6.0 " in an SMTP reply. It does not repeat <see cref="RejectCode"/>.</summary>
    public string? RejectText { get; }

    public IReadOnlyList<AmpAction> Actions { get; }

    public IReadOnlyList<AmpFinding> Warnings { get; }

    /// <summary>Null when the fast path saw no AMP content type anywhere and built no tree.</summary>
    public MimeParseResult? Parsed { get; }

    /// <summary>Empty unless <see cref="Verdict"/> is Rewrite.</summary>
    public MimeRewrite Rewrite { get; }

    public bool HasAmp { get; }

    /// <summary>RFC 5321 section 4.5.3.1.5 caps a reply line at 512 octets; this leaves room for the
    /// code, the enhanced status code and a proxy prefix.</summary>
    public const int MaxRejectTextLength = 400;
}
