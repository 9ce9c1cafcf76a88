using SmtpAmpProxy.Configuration;

namespace SmtpAmpProxy.Dkim;

internal enum DkimOutcomeKind
{
    /// <summary>The message was not repaired: its signatures still hold and nothing was done.</summary>
    NotRepaired,

    /// <summary>Repaired, but it carried no top-level DKIM-Signature: nothing to keep, remove or replace.</summary>
    NoSignature,

    /// <summary>Repaired, signatures left in place (OnRepair = Keep); they are now expected to fail.</summary>
    Kept,

    /// <summary>Repaired, every top-level DKIM-Signature removed (OnRepair = Remove).</summary>
    Removed,

    /// <summary>Repaired and signed afresh for the From domain; its old signatures removed.</summary>
    Resigned,

    /// <summary>OnRepair = Resign, but no key fits the From domain: handled as Keep.</summary>
    NoKeyForDomain,
}

/// <summary>What the DKIM step did to one message, for the log line.</summary>
/// <param name="Signatures">Top-level DKIM-Signature fields the message arrived with.</param>
/// <param name="Removed">How many of them were removed.</param>
/// <param name="FromDomain">Domain of the first From address; null when none could be read.</param>
/// <param name="Domain">d= of the new signature (Resigned).</param>
/// <param name="Selector">s= of the new signature (Resigned).</param>
internal sealed record DkimOutcome(DkimOutcomeKind Kind, int Signatures, int Removed, string? FromDomain, string? Domain = null, string? Selector = null)
{
    /// <summary>A short code for the JSON log: "kept", "removed", "resigned", …</summary>
    public string Code => Kind switch
    {
        DkimOutcomeKind.NotRepaired => "not-repaired",
        DkimOutcomeKind.NoSignature => "no-signature",
        DkimOutcomeKind.Kept => "kept",
        DkimOutcomeKind.Removed => "removed",
        DkimOutcomeKind.Resigned => "resigned",
        _ => "no-key-for-domain",
    };

    public string Description => Kind switch
    {
        DkimOutcomeKind.NotRepaired => "message not repaired; signatures untouched",
        DkimOutcomeKind.NoSignature => "repaired message carried no DKIM-Signature",
        DkimOutcomeKind.Kept => $"kept {Signatures} DKIM-Signature field(s); they no longer verify after the repair",
        DkimOutcomeKind.Removed => $"removed {Removed} DKIM-Signature field(s) that no longer verify after the repair",
        DkimOutcomeKind.Resigned => $"signed with d={Domain} s={Selector}; removed {Removed} old signature(s) of {Domain}",
        _ => $"no DKIM key for From domain '{FromDomain ?? "(none)"}'; kept {Signatures} signature(s), which no longer verify",
    };
}

internal sealed record DkimRepairResult(IReadOnlyList<ReadOnlyMemory<byte>> Segments, DkimOutcome Outcome);

/// <summary>
/// What to do with DKIM signatures once the AMP repair has changed the body they cover. Gmail shows
/// the AMP part only when DKIM passes aligned with the From domain, so a repaired message either
/// keeps its now-failing signatures (Keep), drops them (Remove), or is signed afresh with the
/// operator's key for its From domain (Resign). A message that was not repaired is never touched.
/// </summary>
internal static class DkimRepairPolicy
{
    public static DkimRepairResult Apply(
        IReadOnlyList<ReadOnlyMemory<byte>> message, bool repaired, DkimRepairAction action, DkimKeyRing keys, DateTimeOffset now)
    {
        if (!repaired)
        {
            return new DkimRepairResult(message, new DkimOutcome(DkimOutcomeKind.NotRepaired, 0, 0, null));
        }

        var headers = HeaderBlock.Read(message);
        var signatures = DkimSignatureScanner.Find(headers);
        var fromDomain = FromDomain.Find(headers);
        var count = signatures.Count;

        if (action == DkimRepairAction.Resign)
        {
            if (fromDomain is null || keys.Find(fromDomain) is not { } key)
            {
                return new DkimRepairResult(message, new DkimOutcome(DkimOutcomeKind.NoKeyForDomain, count, 0, fromDomain));
            }

            // Only the signatures this key speaks for go: another domain's (an ESP's, a list's)
            // stays, failing, which receivers treat as no signature (RFC 6376 §6.1).
            var own = signatures.Where(s => string.Equals(s.Domain, key.Domain, StringComparison.OrdinalIgnoreCase)).ToList();
            var unsigned = DkimSignatureScanner.Remove(message, own);
            var field = DkimSigner.Sign(unsigned, key, now);
            ReadOnlyMemory<byte>[] signed = [field, .. unsigned];
            return new DkimRepairResult(signed, new DkimOutcome(DkimOutcomeKind.Resigned, count, own.Count, fromDomain, key.Domain, key.Selector));
        }

        if (count == 0)
        {
            return new DkimRepairResult(message, new DkimOutcome(DkimOutcomeKind.NoSignature, 0, 0, fromDomain));
        }

        return action == DkimRepairAction.Remove
            ? new DkimRepairResult(DkimSignatureScanner.Remove(message, signatures), new DkimOutcome(DkimOutcomeKind.Removed, count, count, fromDomain))
            : new DkimRepairResult(message, new DkimOutcome(DkimOutcomeKind.Kept, count, 0, fromDomain));
    }
}
