namespace SmtpAmpProxy.Normalizer.Results;

public enum AmpVerdict { Pass, Rewrite, Reject }

/// <summary>A repair that was applied, e.g. ("amp-after-html", "moved AMP part /3 before part /2 in /").</summary>
public sealed record AmpAction(string Code, string Description);

/// <summary>A rule broken but let through (amp-in-signed, or a rule configured to Pass), or a further
/// reason beside the one a rejection names.</summary>
public sealed record AmpFinding(string Code, string Description);
