using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Writing;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Rules;
using SmtpAmpProxy.Normalizer.Scanning;

namespace SmtpAmpProxy.Normalizer;

/// <summary>Checks a message against the AMP rules and says whether to relay it as is, repaired, or not at all.</summary>
public static class AmpNormalizer
{
    /// <remarks>
    /// A message without the bytes <c>x-amp-html</c> in any letter case cannot hold an AMP part, so it
    /// passes without a tree being built (most traffic). MIME limits are therefore only enforced on
    /// messages that may hold AMP: the limits protect this parse, and the proxy vouches for no more
    /// than the AMP rules. A limit crossed then rejects, since a partial tree cannot prove compliance.
    /// </remarks>
    public static NormalizationResult Normalize(ReadOnlyMemory<byte> message, MimeLimits limits, AmpOptions options)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(options);

        if (!AmpFastPath.MayContainAmp(message.Span))
        {
            return new NormalizationResult(AmpVerdict.Pass, null, null, null, null, parsed: null, new MimeRewrite(), hasAmp: false);
        }

        var parsed = MimeParser.Parse(message, limits);
        if (parsed.Status != MimeParseStatus.Ok)
        {
            string reason = parsed.Error ?? parsed.Status.ToString();
            bool ambiguous = parsed.Status == MimeParseStatus.AmbiguousBoundary;
            return new NormalizationResult(AmpVerdict.Reject, ambiguous ? RuleCodes.MimeAmbiguous : RuleCodes.MimeLimit,
                ReplyText.Sanitize(ambiguous ? $"message structure is ambiguous: {reason}" : $"message structure crosses a MIME limit: {reason}"),
                null, null, parsed, new MimeRewrite(), AmpRuleEngine.ContainsAmp(parsed.Root));
        }

        return AmpRuleEngine.Evaluate(parsed, options);
    }

    /// <summary>Output for Pass/Rewrite: the input itself as one segment on Pass, else the writer's segments.</summary>
    /// <exception cref="InvalidOperationException">The verdict is Reject: there is nothing to relay.</exception>
    public static IReadOnlyList<ReadOnlyMemory<byte>> GetOutputSegments(ReadOnlyMemory<byte> message, NormalizationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Verdict switch
        {
            AmpVerdict.Pass => [message],
            AmpVerdict.Rewrite => MimeWriter.GetSegments(message, result.Parsed!, result.Rewrite),
            _ => throw new InvalidOperationException($"A rejected message ({result.RejectCode}) has no output."),
        };
    }
}
