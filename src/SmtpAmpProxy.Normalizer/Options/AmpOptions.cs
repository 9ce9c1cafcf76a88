namespace SmtpAmpProxy.Normalizer;

/// <summary>What to do with a <c>text/x-amp-html</c> part whose parent is not multipart/alternative (amp-misplaced).</summary>
public enum MisplacedAction { Reject, Pass }

/// <summary>What to do with an alternative holding AMP but no plain or HTML fallback (amp-no-fallback).</summary>
public enum NoFallbackAction { Reject, Pass }

/// <summary>What to do with more than one AMP part in one alternative (amp-duplicate).</summary>
public enum DuplicateAction { KeepFirst, Reject, Pass }

/// <summary>What to do with an AMP part in the wrong position (amp-after-html, amp-last).</summary>
public enum OrderAction { Reorder, Reject, Pass }

/// <summary>What to do when a rule is broken inside signed or encrypted content (amp-in-signed).</summary>
public enum SignedAction { Pass, Reject }

/// <summary>One action per AMP rule; the defaults are the design's rule table.</summary>
public sealed record AmpOptions
{
    public MisplacedAction OnMisplaced { get; init; } = MisplacedAction.Reject;
    public NoFallbackAction OnNoFallback { get; init; } = NoFallbackAction.Reject;
    public DuplicateAction OnDuplicate { get; init; } = DuplicateAction.KeepFirst;
    public OrderAction OnAfterHtml { get; init; } = OrderAction.Reorder;
    public OrderAction OnLast { get; init; } = OrderAction.Reorder;

    // Any repair inside multipart/signed invalidates the signature (RFC 1847 section 2.1 signs the
    // content's exact bytes), so the default is to let the signer's message through untouched.
    public SignedAction InsideSigned { get; init; } = SignedAction.Pass;
}
