namespace SmtpAmpProxy.Normalizer;

/// <summary>The rule codes of the design's AMP table, as they appear in replies, logs and reports.</summary>
internal static class RuleCodes
{
    public const string MimeLimit = "mime-limit";
    public const string Misplaced = "amp-misplaced";
    public const string NoFallback = "amp-no-fallback";
    public const string Duplicate = "amp-duplicate";
    public const string AfterHtml = "amp-after-html";
    public const string Last = "amp-last";
    public const string InSigned = "amp-in-signed";

    /// <summary>
    /// When several rules would reject one message, the reply names the most fundamental one: a
    /// structure the parser cannot vouch for, then an AMP part outside any alternative, then an
    /// alternative non-AMP readers cannot display, then the count and position faults a sender fixes
    /// last. amp-in-signed comes after the unsigned rules because those are fixable by the sender alone.
    /// </summary>
    public static int RejectPriority(string code) => code switch
    {
        MimeLimit => 0,
        Misplaced => 1,
        NoFallback => 2,
        Duplicate => 3,
        AfterHtml => 4,
        Last => 5,
        InSigned => 6,
        _ => 7,
    };
}
