using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Dkim;

namespace SmtpAmpProxy.Webhook;

internal enum SmtpApiTagKind
{
    /// <summary>The message had no X-SMTPAPI: one was prepended, the message's own bytes untouched.</summary>
    Added,

    /// <summary>The sender's X-SMTPAPI now carries the argument as well; everything else in it kept.</summary>
    Merged,

    /// <summary>A DKIM signature names X-SMTPAPI in h=: adding or changing the field would break it.</summary>
    DkimCovered,

    /// <summary>The sender's X-SMTPAPI is not a JSON object whose unique_args is an object, or there are several: left alone.</summary>
    Unparsable,
}

internal sealed record SmtpApiTagResult(IReadOnlyList<ReadOnlyMemory<byte>> Segments, SmtpApiTagKind Kind, string Detail);

/// <summary>
/// Tags a relayed message for SendGrid's Event Webhook: <c>X-SMTPAPI</c> <c>unique_args</c> gets
/// <c>"smtp_amp_proxy": "passed"</c> or <c>"repaired"</c>, which SendGrid returns as a top-level field
/// of every event about the message (and removes the header before delivery). That is how an open
/// or a click is joined to what the proxy did.
/// </summary>
internal static class SmtpApiTag
{
    public const string FieldName = "x-smtpapi";
    public const string Passed = "passed";
    public const string Repaired = "repaired";

    // The sender's JSON is checked strictly: a header SendGrid might read differently from us is left alone.
    private static readonly JsonReaderOptions Strict = new() { MaxDepth = 32, CommentHandling = JsonCommentHandling.Disallow };

    // Folded lines stay near the 78 characters RFC 5322 §2.1.1 recommends, and well under its 998 limit.
    private const int LineWidth = 78;

    // Most messages carry no X-SMTPAPI and get one of these two fields: built once, not per message.
    private static readonly ReadOnlyMemory<byte> AddedPassed = Field(NewJson(Passed));
    private static readonly ReadOnlyMemory<byte> AddedRepaired = Field(NewJson(Repaired));

    /// <summary>Tags the message, logging (event 3310) when it cannot be tagged.</summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> Apply(
        IReadOnlyList<ReadOnlyMemory<byte>> message, bool repaired, ILogger logger, long sessionId, string? messageId)
    {
        var result = Tag(message, repaired ? Repaired : Passed);
        if (result.Kind is SmtpApiTagKind.DkimCovered or SmtpApiTagKind.Unparsable)
        {
            WebhookLog.Untagged(logger, sessionId, messageId, result.Kind == SmtpApiTagKind.DkimCovered ? "dkim-covered" : "unparsable", result.Detail);
        }

        return result.Segments;
    }

    public static SmtpApiTagResult Tag(IReadOnlyList<ReadOnlyMemory<byte>> message, string outcome)
    {
        var headers = HeaderBlock.Read(message);
        foreach (var signature in DkimSignatureScanner.Find(headers))
        {
            var signed = DkimSignatureScanner.Tag(signature.Value, "h") ?? "";
            if (signed.Split(':').Any(name => name.Equals(FieldName, StringComparison.OrdinalIgnoreCase)))
            {
                // A signer that names X-SMTPAPI (even one it did not send: over-signing, RFC 6376 §8.15)
                // said no relay may add or change it.
                return new(message, SmtpApiTagKind.DkimCovered, $"DKIM-Signature d={signature.Domain} covers X-SMTPAPI");
            }
        }

        var fields = headers.Fields.Where(f => f.Name == FieldName).ToList();
        if (fields.Count == 0)
        {
            // Prepended like the Received: field: the sender's bytes follow unchanged.
            var added = outcome switch
            {
                Passed => AddedPassed,
                Repaired => AddedRepaired,
                _ => Field(NewJson(outcome)),
            };
            return new([added, .. message], SmtpApiTagKind.Added, "");
        }

        if (fields.Count > 1)
        {
            return new(message, SmtpApiTagKind.Unparsable, $"{fields.Count} X-SMTPAPI fields; which one the upstream reads is not ours to guess");
        }

        var field = fields[0];
        var unfolded = Unfold(headers.Value(field));
        if (Merge(unfolded, outcome) is not { } merged)
        {
            return new(message, SmtpApiTagKind.Unparsable, "X-SMTPAPI is not a JSON object with an object unique_args");
        }

        // The sender's field must change: SendGrid reads one X-SMTPAPI, so a second one of ours
        // would either be ignored or hide the sender's. It is rewritten in place with the argument
        // inserted into its JSON text and every other byte of that text kept; only its line
        // folding is redone, which changes no JSON value (folding white space is JSON white space).
        var total = MessageSegments.TotalLength(message);
        var end = field.Offset + field.Length;
        IReadOnlyList<ReadOnlyMemory<byte>> rewritten =
        [
            .. MessageSegments.Slice(message, 0, field.Offset),
            Field(merged),
            .. MessageSegments.Slice(message, end, total - end),
        ];
        return new(rewritten, SmtpApiTagKind.Merged, "");
    }

    /// <summary>
    /// The JSON text with <c>unique_args.smtp_amp_proxy</c> set to <paramref name="outcome"/>, by
    /// splicing into the text; null when it is not one JSON object whose <c>unique_args</c> (if any)
    /// is an object, with no duplicate <c>unique_args</c>.
    /// </summary>
    internal static byte[]? Merge(byte[] json, string outcome)
    {
        var argument = $"\"{EngagementBatch.OutcomeField}\":\"{outcome}\"";
        try
        {
            var reader = new Utf8JsonReader(json, Strict);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            var top = (int)reader.TokenStartIndex;
            var topEmpty = true;
            var argsStart = -1;
            var argsEmpty = true;
            (int Start, int End)? existing = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                topEmpty = false;
                if (!reader.ValueTextEquals("unique_args"u8))
                {
                    reader.Read();
                    reader.Skip();
                    continue;
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject || argsStart >= 0)
                {
                    return null;
                }

                argsStart = (int)reader.TokenStartIndex;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    argsEmpty = false;
                    var ours = reader.ValueTextEquals(EngagementBatch.OutcomeField);
                    reader.Read();
                    if (ours && existing is null)
                    {
                        existing = ((int)reader.TokenStartIndex, (int)reader.BytesConsumed);
                    }

                    reader.Skip();
                }
            }

            if (reader.Read())
            {
                return null;
            }

            // The sender's own value of our argument says nothing about what this proxy did: ours replaces it.
            var (at, remove, insert) = existing is { } value
                ? (value.Start, value.End - value.Start, $"\"{outcome}\"")
                : argsStart >= 0
                    ? (argsStart + 1, 0, argument + (argsEmpty ? "" : ","))
                    : (top + 1, 0, $"\"unique_args\":{{{argument}}}" + (topEmpty ? "" : ","));
            return [.. json.AsSpan(0, at), .. Encoding.UTF8.GetBytes(insert), .. json.AsSpan(at + remove)];
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static byte[] NewJson(string outcome) =>
        Encoding.UTF8.GetBytes($"{{\"unique_args\":{{\"{EngagementBatch.OutcomeField}\":\"{outcome}\"}}}}");

    /// <summary>RFC 5322 §2.2.3: unfolding removes the CRLFs; the white space after them stays.</summary>
    private static byte[] Unfold(ReadOnlySpan<byte> value)
    {
        var bytes = new List<byte>(value.Length);
        foreach (var b in value)
        {
            if (b is not ((byte)'\r' or (byte)'\n'))
            {
                bytes.Add(b);
            }
        }

        return [.. bytes];
    }

    /// <summary><c>X-SMTPAPI: json CRLF</c>, folded after a comma outside strings once a line passes <see cref="LineWidth"/>.</summary>
    private static byte[] Field(byte[] json)
    {
        var field = new List<byte>(json.Length + 32);
        field.AddRange("X-SMTPAPI: "u8);
        var start = json.AsSpan().IndexOfAnyExcept(" \t"u8);
        var lineLength = field.Count;
        bool inString = false, escaped = false;
        for (var i = Math.Max(start, 0); i < json.Length; i++)
        {
            var b = json[i];
            field.Add(b);
            lineLength++;
            if (inString)
            {
                (escaped, inString) = escaped ? (false, true) : b == '\\' ? (true, true) : (false, b != '"');
            }
            else if (b == '"')
            {
                inString = true;
            }
            else if (b == ',' && lineLength >= LineWidth && i + 1 < json.Length)
            {
                field.AddRange("\r\n "u8);
                lineLength = 1;
            }
        }

        while (field.Count > 0 && field[^1] is (byte)' ' or (byte)'\t')
        {
            field.RemoveAt(field.Count - 1);
        }

        field.AddRange("\r\n"u8);
        return [.. field];
    }
}
