namespace SmtpAmpProxy.Normalizer.Options;

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

/// <summary>
/// What to do with an AMP document that breaks a known rule of the AMP for Email format
/// (amp-too-large, amp-invalid-markup, amp-insecure-url).
/// </summary>
/// <remarks>
/// Strip drops the AMP part from its multipart/alternative so that the reader sees the fallback the
/// sender wrote; it needs a text/plain or HTML fallback beside the part, and where there is none (an
/// alternative passed without fallback, or an AMP part passed outside any alternative) the part cannot
/// go without leaving the reader nothing, so the message is rejected instead.
/// </remarks>
public enum AmpDocumentAction { Warn, Strip, Reject }

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

    // The document checks only warn by default: without the AMP validator the proxy knows a subset of
    // the rules, and an email client that finds the AMP part invalid shows the fallback anyway.
    public AmpDocumentAction OnTooLarge { get; init; } = AmpDocumentAction.Warn;
    public AmpDocumentAction OnInvalidMarkup { get; init; } = AmpDocumentAction.Warn;
    public AmpDocumentAction OnInsecureUrl { get; init; } = AmpDocumentAction.Warn;

    /// <summary>Largest AMP document, in bytes after transfer decoding (as UTF-8), before amp-too-large.</summary>
    /// <remarks>
    /// 102,400 is Gmail's limit (it shows the HTML fallback for a larger AMP part), half of the
    /// 200,000 bytes the AMP for Email specification itself allows. Gmail is the receiver that matters
    /// for SendGrid traffic; raise it towards 200,000 for other AMP readers.
    /// </remarks>
    public int MaxAmpBytes
    {
        get => _maxAmpBytes;
        init
        {
            // Bound from configuration: fail at start, naming the key, rather than on every message.
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxAmpBytes), value, "Amp:MaxAmpBytes must be a positive number of bytes.");
            }

            _maxAmpBytes = value;
        }
    }

    private readonly int _maxAmpBytes = DefaultMaxAmpBytes;

    internal const int DefaultMaxAmpBytes = 102400;
}
