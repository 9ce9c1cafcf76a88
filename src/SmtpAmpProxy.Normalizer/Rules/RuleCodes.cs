namespace SmtpAmpProxy.Normalizer.Rules;

/// <summary>The rule codes of the design's AMP table, as they appear in replies, logs and reports.</summary>
internal static class RuleCodes
{
    public const string MimeLimit = "mime-limit";
    public const string MimeAmbiguous = "mime-ambiguous";
    public const string Misplaced = "amp-misplaced";
    public const string NoFallback = "amp-no-fallback";
    public const string Duplicate = "amp-duplicate";
    public const string AfterHtml = "amp-after-html";
    public const string Last = "amp-last";
    public const string InSigned = "amp-in-signed";
    public const string TooLarge = "amp-too-large";
    public const string InvalidMarkup = "amp-invalid-markup";
    public const string InsecureUrl = "amp-insecure-url";

    /// <summary>
    /// When several rules would reject one message, the reply names the most fundamental one: a
    /// structure the parser cannot vouch for, then an AMP part outside any alternative, then an
    /// alternative non-AMP readers cannot display, then the count and position faults a sender fixes
    /// last, then what is wrong inside the AMP document (after the structure, since a reader never gets
    /// to a document it cannot find). amp-in-signed comes after the unsigned rules because those are
    /// fixable by the sender alone.
    /// </summary>
    public static int RejectPriority(string code) => code switch
    {
        MimeLimit or MimeAmbiguous => 0,
        Misplaced => 1,
        NoFallback => 2,
        Duplicate => 3,
        AfterHtml => 4,
        Last => 5,
        TooLarge => 6,
        InvalidMarkup => 7,
        InsecureUrl => 8,
        InSigned => 9,
        _ => 10,
    };
}
