namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>The replies to one message sent the way the relay sends it; <see cref="Data"/> is null when DATA was not sent.</summary>
internal sealed record RelayedReplies(SmtpReply Mail, IReadOnlyList<SmtpReply> Rcpts, SmtpReply? Data);

/// <summary>
/// The command sequence the relay's transaction uses, so client tests exercise what production runs: MAIL
/// with the first RCPT in one exchange, further RCPTs one by one as the sender gives them, DATA written ahead
/// (its 354 read once the content is ready), then the content; RSET when no recipient was accepted.
/// </summary>
internal static class RelaySequence
{
    public static async Task<RelayedReplies> SendMessageAsync(this SmtpClientConnection connection, string from, string? parameters,
        IReadOnlyList<SmtpRecipient> recipients, IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct)
    {
        SmtpEnvelopeReplies envelope = await connection.SendEnvelopeAsync(from, parameters, [recipients[0]], withData: false, ct);
        if (!envelope.Mail.IsPositive)
        {
            return new RelayedReplies(envelope.Mail, [], null);
        }

        var rcpts = new List<SmtpReply>(envelope.Rcpts);
        foreach (SmtpRecipient recipient in recipients.Skip(1))
        {
            rcpts.Add(await connection.RcptAsync(recipient.Path, recipient.Parameters, ct));
        }

        if (!rcpts.Any(r => r.IsPositive))
        {
            await connection.RsetAsync(ct);
            return new RelayedReplies(envelope.Mail, rcpts, null);
        }

        await connection.WriteDataAsync(ct);
        SmtpReply data = await connection.ReadDataReplyAsync(ct);
        if (data.Code != 354)
        {
            return new RelayedReplies(envelope.Mail, rcpts, data);
        }

        return new RelayedReplies(envelope.Mail, rcpts, await connection.SendContentAsync(content, ct));
    }
}
