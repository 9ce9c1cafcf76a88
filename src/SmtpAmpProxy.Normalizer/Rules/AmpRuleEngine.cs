using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Writing;
using SmtpAmpProxy.Normalizer.Documents;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;

namespace SmtpAmpProxy.Normalizer.Rules;

/// <summary>
/// Applies the AMP rule table to a parsed tree.
/// </summary>
/// <remarks>
/// Order of evaluation, per multipart/alternative (every alternative in the message, in document
/// order, never inside message/rfc822):
/// 1. amp-no-fallback on the original children: it is decided by what the alternative holds, not by
///    where things stand, and no repair can supply a missing fallback.
/// 2. amp-duplicate: with KeepFirst the later AMP parts are dropped before any position is judged,
///    so a dropped part is never moved and a kept part is judged where it really ends up.
/// 3. The document checks (amp-too-large, amp-invalid-markup, amp-insecure-url) on each AMP part that
///    remains; Strip drops the part here, so it is not judged for position afterwards.
/// 4. amp-after-html, else amp-last (they exclude each other: one needs an HTML-bearing child, the
///    other needs none). With duplicates passed through, every misplaced AMP part moves, as a block
///    in its original relative order.
/// amp-misplaced is judged on every AMP part wherever it sits, and an AMP part outside any alternative
/// (passed by configuration) still has its document checked. Inside multipart/signed or encrypted
/// content a rule whose action would change or refuse the message is reported as amp-in-signed and
/// handled by that option instead; a rule set to Pass stays a plain warning there too.
/// A rejection anywhere wins over every repair: a message is relayed either exactly as repaired or
/// not at all, never half-fixed. The reply names the most fundamental reason
/// (<see cref="RuleCodes.RejectPriority"/>); the other reasons become warnings for the report.
/// </remarks>
internal sealed class AmpRuleEngine
{
    private enum Outcome { Repair, Reject, Pass }

    private enum Decision { Repair, Reject, Warn, SignedWarn, SignedReject }

    private readonly AmpOptions _options;
    private List<(string Code, string Text)>? _rejects;
    private List<AmpAction>? _actions;
    private List<AmpFinding>? _warnings;
    private List<(MimeEntity Multipart, int[] Order)>? _edits;
    private bool _hasAmp;

    private AmpRuleEngine(AmpOptions options)
    {
        _options = options;
    }

    public static NormalizationResult Evaluate(MimeParseResult parsed, AmpOptions options)
    {
        var engine = new AmpRuleEngine(options);
        for (var e = parsed.Root; e is not null; e = Next(e))
        {
            if (PartKinds.IsAmp(e))
            {
                engine._hasAmp = true;
                engine.CheckPlacement(e);
                if (e.Parent is not { } parent || !PartKinds.IsAlternative(parent))
                {
                    // Parts inside an alternative are checked with it, once duplicates are dropped.
                    engine.CheckDocument(e, alt: null, canStrip: false);
                }
            }
            else if (PartKinds.IsAlternative(e) && e.Children.Count > 0)
            {
                engine.CheckAlternative(e);
            }
        }

        return engine.BuildResult(parsed);
    }

    /// <summary>True when the tree (outside encapsulated messages) holds an AMP part.</summary>
    public static bool ContainsAmp(MimeEntity root)
    {
        for (var e = root; e is not null; e = Next(e))
        {
            if (PartKinds.IsAmp(e))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The next entity in document order, following parent links instead of a stack: no allocation,
    /// and no nesting depth can exhaust the thread's stack. An attached message is not entered.
    /// </summary>
    private static MimeEntity? Next(MimeEntity e)
    {
        if (e.Children.Count > 0 && !PartKinds.IsEncapsulatedMessage(e))
        {
            return e.Children[0];
        }

        for (var current = e; current.Parent is { } parent; current = parent)
        {
            int sibling = current.IndexInParent + 1;
            if (sibling < parent.Children.Count)
            {
                return parent.Children[sibling];
            }
        }

        return null;
    }

    private void CheckPlacement(MimeEntity amp)
    {
        var parent = amp.Parent;
        if (parent is not null && PartKinds.IsAlternative(parent))
        {
            return;
        }

        var outcome = _options.OnMisplaced == MisplacedAction.Pass ? Outcome.Pass : Outcome.Reject;
        var signer = PartKinds.SignedAncestor(amp);
        Report(RuleCodes.Misplaced, Decide(outcome, signer), signer, parent is null
            ? "the message itself is text/x-amp-html; the AMP part must be a child of multipart/alternative"
            : $"AMP part {amp.Path} is inside {ReplyText.Name(parent.ContentType.MimeType)}; it must be a child of multipart/alternative");
    }

    private void CheckAlternative(MimeEntity alt)
    {
        var children = alt.Children;
        int n = children.Count;
        int ampCount = 0, lastAmp = -1, firstHtml = -1, lastPart = -1;
        bool hasFallback = false;
        for (int i = 0; i < n; i++)
        {
            var child = children[i];
            if (PartKinds.IsVoid(child))
            {
                continue;
            }

            lastPart = i;
            if (PartKinds.IsAmp(child))
            {
                ampCount++;
                lastAmp = i;
            }
            else if (PartKinds.IsPlain(child))
            {
                hasFallback = true;
            }
            else if (PartKinds.IsHtmlBearing(child))
            {
                hasFallback = true;
                firstHtml = firstHtml < 0 ? i : firstHtml;
            }
        }

        if (ampCount == 0)
        {
            return;
        }

        // Compliant alternatives, nearly all AMP mail, leave here once their one document is checked.
        bool misordered = firstHtml >= 0 ? lastAmp > firstHtml : lastAmp == lastPart;
        if (ampCount == 1 && hasFallback && !misordered)
        {
            if (CheckDocument(children[lastAmp], alt, canStrip: true))
            {
                (_edits ??= []).Add((alt, Enumerable.Range(0, n).Where(k => k != lastAmp).ToArray()));
            }

            return;
        }

        var signer = PartKinds.SignedAncestor(alt);
        if (!hasFallback)
        {
            var outcome = _options.OnNoFallback == NoFallbackAction.Pass ? Outcome.Pass : Outcome.Reject;
            Report(RuleCodes.NoFallback, Decide(outcome, signer), signer,
                $"multipart/alternative {alt.Path} holds an AMP part but no text/plain, text/html or multipart/related with an HTML root");
        }

        var order = new List<int>(n);
        for (int i = 0; i < n; i++)
        {
            order.Add(i);
        }

        bool IsAmpAt(int index) => PartKinds.IsAmp(children[index]);
        if (ampCount > 1)
        {
            var amps = order.FindAll(IsAmpAt);
            var decision = Decide(_options.OnDuplicate switch
            {
                DuplicateAction.KeepFirst => Outcome.Repair,
                DuplicateAction.Reject => Outcome.Reject,
                _ => Outcome.Pass,
            }, signer);
            if (decision == Decision.Repair)
            {
                order.RemoveAll(k => IsAmpAt(k) && k != amps[0]);
                AddAction(RuleCodes.Duplicate, $"kept AMP part {children[amps[0]].Path} and dropped {Paths(children, amps.Skip(1))} in {alt.Path}");
            }
            else
            {
                Report(RuleCodes.Duplicate, decision, signer,
                    $"multipart/alternative {alt.Path} holds {ampCount} AMP parts ({Paths(children, amps)}); only one is allowed");
            }
        }

        // Documents are judged where they end up: a dropped duplicate is not checked, and a stripped
        // part is not then moved.
        foreach (int k in order.FindAll(IsAmpAt))
        {
            if (CheckDocument(children[k], alt, canStrip: hasFallback))
            {
                order.Remove(k);
            }
        }

        if (firstHtml >= 0)
        {
            int anchor = order.IndexOf(firstHtml);
            var late = order.Skip(anchor + 1).Where(IsAmpAt).ToList();
            if (late.Count > 0)
            {
                var decision = Decide(ToOutcome(_options.OnAfterHtml), signer);
                string parts = Names(children, late);
                if (decision == Decision.Repair)
                {
                    order.RemoveAll(new HashSet<int>(late).Contains);
                    order.InsertRange(anchor, late);
                    AddAction(RuleCodes.AfterHtml, $"moved {parts} before part {children[firstHtml].Path} in {alt.Path}");
                }
                else
                {
                    Report(RuleCodes.AfterHtml, decision, signer,
                        $"{parts} {(late.Count == 1 ? "comes" : "come")} after HTML part {children[firstHtml].Path} in multipart/alternative {alt.Path}; clients that show the last part they understand would skip it");
                }
            }
        }
        else if (order.FindLastIndex(k => !PartKinds.IsVoid(children[k])) is int lastKept and >= 0 && IsAmpAt(order[lastKept]))
        {
            int lastOther = order.FindLastIndex(k => !IsAmpAt(k) && !PartKinds.IsVoid(children[k]));
            if (lastOther >= 0)
            {
                var tail = order.Skip(lastOther + 1).Where(IsAmpAt).ToList();
                var decision = Decide(ToOutcome(_options.OnLast), signer);
                string parts = Names(children, tail);
                if (decision == Decision.Repair)
                {
                    string anchor = children[order[lastOther]].Path;
                    order.RemoveAll(new HashSet<int>(tail).Contains);
                    order.InsertRange(lastOther, tail);
                    AddAction(RuleCodes.Last, $"moved {parts} before part {anchor} in {alt.Path}");
                }
                else
                {
                    Report(RuleCodes.Last, decision, signer,
                        $"{parts} {(tail.Count == 1 ? "is" : "are")} last in multipart/alternative {alt.Path}, after every other part; clients that show the last part would show only AMP");
                }
            }
        }

        if (order.Count != n || order.Where((k, i) => k != i).Any())
        {
            (_edits ??= []).Add((alt, order.ToArray()));
        }
    }

    /// <summary>
    /// Checks one AMP document that stays in the output; true when it is to be stripped from
    /// <paramref name="alt"/>. Strip needs a fallback to strip to: without one (<paramref name="canStrip"/>
    /// false) the part cannot go without leaving the reader nothing, so the message is rejected.
    /// </summary>
    private bool CheckDocument(MimeEntity amp, MimeEntity? alt, bool canStrip)
    {
        var problems = AmpDocumentCheck.Check(amp, _options.MaxAmpBytes);
        if (problems is null)
        {
            return false;
        }

        var signer = PartKinds.SignedAncestor(amp);
        bool strip = false;
        foreach (var (code, problem) in problems)
        {
            var action = code switch
            {
                RuleCodes.TooLarge => _options.OnTooLarge,
                RuleCodes.InvalidMarkup => _options.OnInvalidMarkup,
                _ => _options.OnInsecureUrl,
            };
            var decision = Decide(action switch
            {
                AmpDocumentAction.Strip => Outcome.Repair,
                AmpDocumentAction.Reject => Outcome.Reject,
                _ => Outcome.Pass,
            }, signer);
            if (decision == Decision.Repair && canStrip && alt is not null)
            {
                strip = true;
                AddAction(code, ReplyText.Sanitize($"dropped AMP part {amp.Path} from {alt.Path}, keeping its fallback: {problem}"));
            }
            else if (decision == Decision.Repair)
            {
                Report(code, Decision.Reject, signer, alt is null
                    ? $"{problem}; it cannot be stripped because it is not in a multipart/alternative"
                    : $"{problem}; it cannot be stripped because multipart/alternative {alt.Path} has no fallback to show instead");
            }
            else if (decision == Decision.Warn)
            {
                (_warnings ??= []).Add(new AmpFinding(code, ReplyText.Sanitize(problem)));
            }
            else
            {
                Report(code, decision, signer, problem);
            }
        }

        return strip;
    }

    private static string Paths(IReadOnlyList<MimeEntity> children, IEnumerable<int> indices) =>
        string.Join(", ", indices.Select(k => children[k].Path));

    private static string Names(IReadOnlyList<MimeEntity> children, List<int> indices) =>
        (indices.Count == 1 ? "AMP part " : "AMP parts ") + Paths(children, indices);

    private static Outcome ToOutcome(OrderAction action) => action switch
    {
        OrderAction.Reorder => Outcome.Repair,
        OrderAction.Reject => Outcome.Reject,
        _ => Outcome.Pass,
    };

    /// <summary>
    /// A rule set to Pass is a plain warning everywhere. Otherwise, inside signed or encrypted content
    /// the amp-in-signed option decides, since any change there breaks the signature (RFC 1847 section 2.1).
    /// </summary>
    private Decision Decide(Outcome outcome, MimeEntity? signer) => outcome switch
    {
        Outcome.Pass => Decision.Warn,
        _ when signer is not null => _options.InsideSigned == SignedAction.Pass ? Decision.SignedWarn : Decision.SignedReject,
        Outcome.Reject => Decision.Reject,
        _ => Decision.Repair,
    };

    private void AddAction(string code, string description) => (_actions ??= []).Add(new AmpAction(code, description));

    private void Report(string code, Decision decision, MimeEntity? signer, string problem)
    {
        string where = signer is null ? string.Empty : $"{ReplyText.Name(signer.ContentType.MimeType)} at {signer.Path}";
        switch (decision)
        {
            case Decision.Warn:
                (_warnings ??= []).Add(new AmpFinding(code, ReplyText.Sanitize($"{problem}; passed by configuration")));
                break;
            case Decision.SignedWarn:
                (_warnings ??= []).Add(new AmpFinding(RuleCodes.InSigned,
                    ReplyText.Sanitize($"{problem} ({code}); left unchanged inside {where} to keep the signature valid")));
                break;
            case Decision.SignedReject:
                (_rejects ??= []).Add((RuleCodes.InSigned,
                    $"{problem} ({code}); it is inside {where} and cannot be changed without breaking the signature"));
                break;
            default:
                (_rejects ??= []).Add((code, problem));
                break;
        }
    }

    private NormalizationResult BuildResult(MimeParseResult parsed)
    {
        if (_rejects is { Count: > 0 } rejects)
        {
            int chosen = 0;
            for (int i = 1; i < rejects.Count; i++)
            {
                if (RuleCodes.RejectPriority(rejects[i].Code) < RuleCodes.RejectPriority(rejects[chosen].Code))
                {
                    chosen = i;
                }
            }

            var warnings = new List<AmpFinding>(_warnings ?? []);
            for (int i = 0; i < rejects.Count; i++)
            {
                if (i != chosen)
                {
                    warnings.Add(new AmpFinding(rejects[i].Code, ReplyText.Sanitize(rejects[i].Text)));
                }
            }

            return new NormalizationResult(AmpVerdict.Reject, rejects[chosen].Code, ReplyText.Sanitize(rejects[chosen].Text),
                actions: null, warnings, parsed, new MimeRewrite(), _hasAmp);
        }

        var rewrite = new MimeRewrite();
        if (_edits is null)
        {
            return new NormalizationResult(AmpVerdict.Pass, null, null, _actions, _warnings, parsed, rewrite, _hasAmp);
        }

        foreach (var (multipart, order) in _edits)
        {
            rewrite.SetChildOrder(multipart, order);
        }

        return new NormalizationResult(AmpVerdict.Rewrite, null, null, _actions, _warnings, parsed, rewrite, _hasAmp);
    }
}
