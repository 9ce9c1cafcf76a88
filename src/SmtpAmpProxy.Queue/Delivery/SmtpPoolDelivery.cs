using SmtpAmpProxy.Smtp;
using SmtpAmpProxy.Smtp.Client;

namespace SmtpAmpProxy.Queue.Delivery;

/// <summary>Delivery through the upstream connection pool the relay uses: one pooled connection per attempt.</summary>
internal sealed class SmtpPoolDelivery(SmtpConnectionPool pool) : IMessageDelivery
{
    public async Task<IReadOnlyList<SmtpReply>> DeliverAsync(DeliveryRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        SmtpClientConnection connection;
        try
        {
            connection = await pool.RentAsync(ct).ConfigureAwait(false);
        }
        catch (SmtpConnectionException e)
        {
            return DeliveryReplies.ForAll(request.Recipients.Count, new SmtpReply(451, "4.4.1", "Upstream unreachable: " + e.Message));
        }

        try
        {
            SmtpTransactionReplies replies = await connection
                .SendMessageAsync(request.Sender, request.MailParameters, request.Recipients, [request.Content], ct)
                .ConfigureAwait(false);
            return DeliveryReplies.PerRecipient(replies, request.Recipients.Count);
        }
        catch (SmtpConnectionException e)
        {
            // Lost after the content may have arrived: retrying can repeat the message (at least once).
            return DeliveryReplies.ForAll(request.Recipients.Count, new SmtpReply(451, "4.4.2", "Upstream connection lost: " + e.Message));
        }
        finally
        {
            await pool.ReturnAsync(connection).ConfigureAwait(false);
        }
    }
}

/// <summary>Which reply decides each recipient of a transaction.</summary>
internal static class DeliveryReplies
{
    public static SmtpReply[] ForAll(int count, SmtpReply reply)
    {
        var replies = new SmtpReply[count];
        Array.Fill(replies, reply);
        return replies;
    }

    /// <summary>
    /// MAIL refused: that reply for all. A refused RCPT: its own reply. An accepted RCPT: the reply to the
    /// content (RFC 5321 3.3: the final reply covers every accepted recipient), or, when DATA never went,
    /// a 4xx saying so.
    /// </summary>
    public static SmtpReply[] PerRecipient(SmtpTransactionReplies replies, int count)
    {
        ArgumentNullException.ThrowIfNull(replies);
        if (!replies.Mail.IsPositive)
        {
            return ForAll(count, replies.Mail);
        }

        var result = new SmtpReply[count];
        for (int i = 0; i < count; i++)
        {
            SmtpReply rcpt = i < replies.Rcpts.Count ? replies.Rcpts[i] : new SmtpReply(451, "4.4.2", "No reply to RCPT");
            result[i] = !rcpt.IsPositive ? rcpt
                : replies.Data is { } data ? data
                : new SmtpReply(451, "4.4.2", "Message content not sent");
        }

        return result;
    }
}
