using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Delivery;

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
    /// <param name="rcpts">One reply per recipient sent; fewer when the upstream stopped answering.</param>
    /// <param name="data">The final reply after the content, or DATA's refusal; null when DATA was not sent.</param>
    public static SmtpReply[] PerRecipient(SmtpReply mail, IReadOnlyList<SmtpReply> rcpts, SmtpReply? data, int count)
    {
        ArgumentNullException.ThrowIfNull(rcpts);
        if (!mail.IsPositive)
        {
            return ForAll(count, mail);
        }

        var result = new SmtpReply[count];
        for (int i = 0; i < count; i++)
        {
            SmtpReply rcpt = i < rcpts.Count ? rcpts[i] : new SmtpReply(451, "4.4.2", "No reply to RCPT");
            result[i] = !rcpt.IsPositive ? rcpt
                : data is { } final ? final
                : new SmtpReply(451, "4.4.2", "Message content not sent");
        }

        return result;
    }
}
