using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Delivery;

/// <summary>One delivery attempt: the outstanding recipients of a spooled message and its content.</summary>
/// <param name="Sender">The reverse path without brackets; "" for a notification.</param>
/// <param name="Content">The message as spooled (CRLF lines, not dot-stuffed).</param>
internal sealed record DeliveryRequest(string QueueId, string Sender, string? MailParameters, IReadOnlyList<SmtpRecipient> Recipients, ReadOnlyMemory<byte> Content);

/// <summary>Where the queue hands mail on: the upstream, through the relay's client and pool.</summary>
internal interface IMessageDelivery
{
    /// <summary>
    /// Sends one message and returns one reply per recipient, in order: the reply that decides that
    /// recipient (its RCPT refusal, or MAIL's or DATA's). An upstream that cannot be reached or is lost
    /// gives every recipient a 4xx reply; only cancellation throws.
    /// </summary>
    Task<IReadOnlyList<SmtpReply>> DeliverAsync(DeliveryRequest request, CancellationToken ct);
}
