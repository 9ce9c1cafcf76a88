using System.Text.Json;

namespace SmtpAmpProxy.Webhook;

/// <summary>The labels one event is counted under.</summary>
internal readonly record struct EngagementKey(string Event, string Content, string Outcome);

/// <summary>
/// Reads one Event Webhook batch (a JSON array of event objects) into counts per
/// <see cref="EngagementKey"/>. It streams over the bytes once, keeps no document, and only ever
/// produces label values from fixed lists, so a batch cannot grow the number of time series.
/// </summary>
internal static class EngagementBatch
{
    /// <summary>The argument the proxy puts in X-SMTPAPI unique_args; SendGrid returns it as a top-level field.</summary>
    public const string OutcomeField = "smtp_amp_proxy";

    // An event is an object with a few nested objects (url_offset, pool) and arrays (category):
    // 16 levels is ample, and a body of nested brackets fails at the 17th instead of recursing.
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 16, CommentHandling = JsonCommentHandling.Disallow };

    // SendGrid's delivery and engagement events (its Event Webhook reference); anything else is "other".
    private static readonly string[] EventNames =
    [
        "processed", "dropped", "deferred", "delivered", "bounce", "blocked", "open", "click", "spamreport",
        "unsubscribe", "group_unsubscribe", "group_resubscribe",
    ];

    private static readonly string[] ContentTypes = ["amp", "html"];
    private static readonly string[] Outcomes = [SmtpApiTag.Passed, SmtpApiTag.Repaired];

    /// <summary>The counts of a well-formed batch; <see cref="JsonException"/> for anything else, with nothing counted.</summary>
    public static Dictionary<EngagementKey, long> Count(ReadOnlySpan<byte> json)
    {
        var counts = new Dictionary<EngagementKey, long>();
        var reader = new Utf8JsonReader(json, ReaderOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("an Event Webhook batch is a JSON array");
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw new JsonException("an event is a JSON object");
            }

            var key = ReadEvent(ref reader);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        if (reader.TokenType != JsonTokenType.EndArray || reader.Read())
        {
            throw new JsonException("content after the batch");
        }

        return counts;
    }

    private static EngagementKey ReadEvent(ref Utf8JsonReader reader)
    {
        string? name = null;
        string? openContent = null;
        string? clickContent = null;
        string? outcome = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("event"u8))
            {
                reader.Read();
                name = Pick(ref reader, EventNames) ?? name;
            }
            else if (reader.ValueTextEquals("sg_content_type"u8))
            {
                reader.Read();
                openContent = Pick(ref reader, ContentTypes) ?? openContent;
            }
            else if (reader.ValueTextEquals(OutcomeField))
            {
                reader.Read();
                outcome = Pick(ref reader, Outcomes) ?? outcome;
            }
            else if (reader.ValueTextEquals("url_offset"u8))
            {
                reader.Read();
                clickContent = ReadUrlOffsetType(ref reader) ?? clickContent;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        // Opens say their content in sg_content_type, clicks in url_offset.type; the other events have none.
        var content = name switch
        {
            "open" => openContent ?? "unknown",
            "click" => clickContent ?? "unknown",
            _ => "none",
        };
        return new EngagementKey(name ?? "unknown", content, outcome ?? "untagged");
    }

    private static string? ReadUrlOffsetType(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        string? type = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isType = reader.ValueTextEquals("type"u8);
            reader.Read();
            if (isType)
            {
                type = Pick(ref reader, ContentTypes) ?? type;
            }
            else
            {
                reader.Skip();
            }
        }

        return type;
    }

    /// <summary>The listed value the current string equals, "other" for any other string; null (skipped) for a non-string.</summary>
    private static string? Pick(ref Utf8JsonReader reader, string[] known)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return null;
        }

        foreach (var value in known)
        {
            if (reader.ValueTextEquals(value))
            {
                return value;
            }
        }

        return "other";
    }
}
