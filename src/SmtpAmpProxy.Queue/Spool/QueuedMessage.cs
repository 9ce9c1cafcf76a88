using System.Text.Json.Serialization;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Spool;

internal enum RecipientStatus
{
    /// <summary>Not tried yet.</summary>
    Pending,

    /// <summary>Refused for now (4xx, or the upstream was not reachable); tried again at <see cref="QueuedRecipient.NextAttempt"/>.</summary>
    Deferred,

    /// <summary>The upstream accepted the message for this recipient.</summary>
    Delivered,

    /// <summary>Refused for good (5xx), or still deferred when the message expired.</summary>
    Failed,
}

/// <summary>One recipient of a queued message and where its delivery stands.</summary>
internal sealed class QueuedRecipient
{
    public required string Address { get; init; }

    /// <summary>The RCPT parameters the sender gave (e.g. <c>NOTIFY=FAILURE</c>), passed on unchanged.</summary>
    public string? Parameters { get; init; }

    public RecipientStatus Status { get; set; }

    public int Attempts { get; set; }

    public DateTimeOffset? NextAttempt { get; set; }

    /// <summary>The last reply that decided this recipient's status.</summary>
    public SmtpReply? LastReply { get; set; }

    /// <summary>A failed recipient already named in a notification in the spool.</summary>
    public bool Reported { get; set; }

    [JsonIgnore]
    public bool IsOutstanding => Status is RecipientStatus.Pending or RecipientStatus.Deferred;
}

/// <summary>
/// A spooled message's envelope and delivery state: the <c>.json</c> file beside the content. Its
/// presence in the queue folder is what makes the message accepted (see <see cref="MessageSpool"/>).
/// </summary>
internal sealed class QueuedMessage
{
    public required string Id { get; init; }

    /// <summary>The reverse path without brackets; "" for the null sender (a bounce).</summary>
    public required string Sender { get; init; }

    public string? MailParameters { get; init; }

    public required DateTimeOffset Arrival { get; init; }

    /// <summary>Bytes of the content file.</summary>
    public required long Size { get; init; }

    public required List<QueuedRecipient> Recipients { get; init; }

    [JsonIgnore]
    public bool IsNullSender => Sender.Length == 0;

    /// <summary>When the next attempt is due: the earliest of the outstanding recipients; null when none is.</summary>
    [JsonIgnore]
    public DateTimeOffset? NextAttempt
    {
        get
        {
            DateTimeOffset? next = null;
            foreach (QueuedRecipient r in Recipients)
            {
                if (r.IsOutstanding && (next is null || (r.NextAttempt ?? Arrival) < next))
                {
                    next = r.NextAttempt ?? Arrival;
                }
            }

            return next;
        }
    }

    public QueuedMessage Clone() => new()
    {
        Id = Id,
        Sender = Sender,
        MailParameters = MailParameters,
        Arrival = Arrival,
        Size = Size,
        Recipients = Recipients.ConvertAll(r => new QueuedRecipient
        {
            Address = r.Address,
            Parameters = r.Parameters,
            Status = r.Status,
            Attempts = r.Attempts,
            NextAttempt = r.NextAttempt,
            LastReply = r.LastReply,
            Reported = r.Reported,
        }),
    };
}

[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QueuedMessage))]
[JsonSerializable(typeof(List<QueuedMessage>))]
internal sealed partial class SpoolJson : JsonSerializerContext;
