using SmtpAmpProxy.Mime;

namespace SmtpAmpProxy.Normalizer;

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
/// 3. amp-after-html, else amp-last (they exclude each other: one needs an HTML-bearing child, the
///    other needs none). With duplicates passed through, every misplaced AMP part moves, as a block
///    in its original relative order.
/// amp-misplaced is judged on every AMP part wherever it sits. Inside multipart/signed or encrypted
/// content a rule whose action would change or refuse the message is reported as amp-in-signed and
/// handled by that option instead; a rule set to Pass stays a plain warning there too.
/// A rejection anywhere wins over every repair: a message is relayed either exactly as repaired or
/// not at all, never half-fixed. The reply names the most fundamental reason
/// (<see cref="RuleCodes.RejectPriority"/>); the other reasons become warnings for the report.
/// </remarks>
internal sealed class AmpRuleEngine
{
    private enum Outcome { Repair, Reject, Pass }

    private readonly AmpOptions _options;
    private readonly List<(string Code, string Text)> _rejects = [];
    private readonly List<AmpAction> _actions = [];
    private readonly List<AmpFinding> _warnings = [];
    private readonly List<(MimeEntity Multipart, int[] Order)> _edits = [];
    private bool _hasAmp;

    private AmpRuleEngine(AmpOptions options)
    {
        _options = options;
    }

    public static NormalizationResult Evaluate(MimeParseResult parsed, AmpOptions options)
    {
        var engine = new AmpRuleEngine(options);
        engine.Walk(parsed.Root);
        return engine.BuildResult(parsed);
    }

    /// <summary>True when the tree (outside encapsulated messages) holds an AMP part.</summary>
    public static bool ContainsAmp(MimeEntity root)
    {
        var stack = new Stack<MimeEntity>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var e = stack.Pop();
            if (PartKinds.IsAmp(e))
            {
                return true;
            }

            if (!PartKinds.IsEncapsulatedMessage(e))
            {
                foreach (var child in e.Children)
                {
                    stack.Push(child);
                }
            }
        }

        return false;
    }

    // An explicit stack: MaxDepth is configurable, and a deep tree must not exhaust the thread's stack.
    private void Walk(MimeEntity root)
    {
        var stack = new Stack<MimeEntity>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var e = stack.Pop();
            if (PartKinds.IsAmp(e))
            {
                _hasAmp = true;
                CheckPlacement(e);
            }
            else if (PartKinds.IsAlternative(e) && e.Children.Count > 0)
            {
                CheckAlternative(e);
            }

            if (!PartKinds.IsEncapsulatedMessage(e))
            {
                for (int i = e.Children.Count - 1; i >= 0; i--)
                {
                    stack.Push(e.Children[i]);
                }
            }
        }
    }

    private void CheckPlacement(MimeEntity amp)
    {
        var parent = amp.Parent;
        if (parent is not null && PartKinds.IsAlternative(parent))
        {
            return;
        }

        string problem = parent is null
            ? "the message itself is text/x-amp-html; the AMP part must be a child of multipart/alternative"
            : $"AMP part {amp.Path} is inside {ReplyText.Name(parent.ContentType.MimeType)}; it must be a child of multipart/alternative";
        var outcome = _options.OnMisplaced == MisplacedAction.Pass ? Outcome.Pass : Outcome.Reject;
        Breach(RuleCodes.Misplaced, outcome, PartKinds.SignedAncestor(amp), problem, repair: null);
    }

    private void CheckAlternative(MimeEntity alt)
    {
        var children = alt.Children;
        int n = children.Count;
        var amp = new bool[n];
        var html = new bool[n];
        bool hasFallback = false;
        int ampCount = 0;
        for (int i = 0; i < n; i++)
        {
            amp[i] = PartKinds.IsAmp(children[i]);
            ampCount += amp[i] ? 1 : 0;
            html[i] = !amp[i] && PartKinds.IsHtmlBearing(children[i]);
            hasFallback |= html[i] || PartKinds.IsPlain(children[i]);
        }

        if (ampCount == 0)
        {
            return;
        }

        string altPath = alt.Path;
        var signer = PartKinds.SignedAncestor(alt);
        string P(int index) => children[index].Path;

        if (!hasFallback)
        {
            var outcome = _options.OnNoFallback == NoFallbackAction.Pass ? Outcome.Pass : Outcome.Reject;
            Breach(RuleCodes.NoFallback, outcome, signer,
                $"multipart/alternative {altPath} holds an AMP part but no text/plain, text/html or multipart/related with an HTML root",
                repair: null);
        }

        var order = new List<int>(n);
        for (int i = 0; i < n; i++)
        {
            order.Add(i);
        }

        if (ampCount > 1)
        {
            var ampIndices = order.FindAll(k => amp[k]);
            var outcome = _options.OnDuplicate switch
            {
                DuplicateAction.KeepFirst => Outcome.Repair,
                DuplicateAction.Reject => Outcome.Reject,
                _ => Outcome.Pass,
            };
            string dropped = string.Join(", ", ampIndices.Skip(1).Select(P));
            if (Breach(RuleCodes.Duplicate, outcome, signer,
                    $"multipart/alternative {altPath} holds {ampCount} AMP parts ({string.Join(", ", ampIndices.Select(P))}); only one is allowed",
                    $"kept AMP part {P(ampIndices[0])} and dropped {dropped} in {altPath}"))
            {
                order.RemoveAll(k => amp[k] && k != ampIndices[0]);
            }
        }

        int firstHtml = order.FindIndex(k => html[k]);
        if (firstHtml >= 0)
        {
            var late = order.Skip(firstHtml + 1).Where(k => amp[k]).ToList();
            if (late.Count > 0)
            {
                string parts = Describe(late, P);
                string anchor = P(order[firstHtml]);
                if (Breach(RuleCodes.AfterHtml, ToOutcome(_options.OnAfterHtml), signer,
                        $"{parts} after HTML part {anchor} in multipart/alternative {altPath}; clients that show the last part they understand would skip it",
                        $"moved {Names(late, P)} before part {anchor} in {altPath}"))
                {
                    order.RemoveAll(late.Contains);
                    order.InsertRange(firstHtml, late);
                }
            }
        }
        else if (amp[order[^1]])
        {
            int lastOther = order.FindLastIndex(k => !amp[k]);
            if (lastOther >= 0)
            {
                var tail = order.GetRange(lastOther + 1, order.Count - lastOther - 1);
                string anchor = P(order[lastOther]);
                if (Breach(RuleCodes.Last, ToOutcome(_options.OnLast), signer,
                        $"{Names(tail, P)} {(tail.Count == 1 ? "is" : "are")} last in multipart/alternative {altPath}, after every other part; clients that show the last part would show only AMP",
                        $"moved {Names(tail, P)} before part {anchor} in {altPath}"))
                {
                    order.RemoveRange(lastOther + 1, tail.Count);
                    order.InsertRange(lastOther, tail);
                }
            }
        }

        if (order.Count != n || order.Where((k, i) => k != i).Any())
        {
            _edits.Add((alt, order.ToArray()));
        }
    }

    private static string Names(List<int> indices, Func<int, string> path) =>
        (indices.Count == 1 ? "AMP part " : "AMP parts ") + string.Join(", ", indices.Select(path));

    private static string Describe(List<int> indices, Func<int, string> path) =>
        Names(indices, path) + (indices.Count == 1 ? " comes" : " come");

    private static Outcome ToOutcome(OrderAction action) => action switch
    {
        OrderAction.Reorder => Outcome.Repair,
        OrderAction.Reject => Outcome.Reject,
        _ => Outcome.Pass,
    };

    /// <summary>Records a broken rule; true when the caller is to apply its repair.</summary>
    private bool Breach(string code, Outcome outcome, MimeEntity? signer, string problem, string? repair)
    {
        if (outcome == Outcome.Pass)
        {
            _warnings.Add(new AmpFinding(code, ReplyText.Sanitize($"{problem}; passed by configuration")));
            return false;
        }

        if (signer is not null)
        {
            string where = $"{ReplyText.Name(signer.ContentType.MimeType)} {signer.Path}";
            if (_options.InsideSigned == SignedAction.Pass)
            {
                _warnings.Add(new AmpFinding(RuleCodes.InSigned,
                    ReplyText.Sanitize($"{problem} ({code}); left unchanged inside {where} to keep the signature valid")));
            }
            else
            {
                _rejects.Add((RuleCodes.InSigned,
                    $"{problem} ({code}); it is inside {where} and cannot be changed without breaking the signature"));
            }

            return false;
        }

        if (outcome == Outcome.Reject)
        {
            _rejects.Add((code, problem));
            return false;
        }

        _actions.Add(new AmpAction(code, ReplyText.Sanitize(repair!)));
        return true;
    }

    private NormalizationResult BuildResult(MimeParseResult parsed)
    {
        if (_rejects.Count > 0)
        {
            int chosen = 0;
            for (int i = 1; i < _rejects.Count; i++)
            {
                if (RuleCodes.RejectPriority(_rejects[i].Code) < RuleCodes.RejectPriority(_rejects[chosen].Code))
                {
                    chosen = i;
                }
            }

            var warnings = new List<AmpFinding>(_warnings);
            for (int i = 0; i < _rejects.Count; i++)
            {
                if (i != chosen)
                {
                    warnings.Add(new AmpFinding(_rejects[i].Code, ReplyText.Sanitize(_rejects[i].Text)));
                }
            }

            return new NormalizationResult(AmpVerdict.Reject, _rejects[chosen].Code, ReplyText.Sanitize(_rejects[chosen].Text),
                actions: null, warnings, parsed, new MimeRewrite(), _hasAmp);
        }

        var rewrite = new MimeRewrite();
        foreach (var (multipart, order) in _edits)
        {
            rewrite.SetChildOrder(multipart, order);
        }

        var verdict = _edits.Count > 0 ? AmpVerdict.Rewrite : AmpVerdict.Pass;
        return new NormalizationResult(verdict, null, null, _actions, _warnings, parsed, rewrite, _hasAmp);
    }
}
