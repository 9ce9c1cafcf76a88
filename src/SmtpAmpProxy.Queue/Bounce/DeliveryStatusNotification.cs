using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Bounce;

/// <summary>A recipient the notification reports as failed, and the reply that failed it (none when it expired untried).</summary>
internal sealed record FailedRecipient(string Address, SmtpReply? Reply, bool Expired);

/// <summary>
/// RFC 3464 delivery status notifications: a <c>multipart/report; report-type=delivery-status</c>
/// (RFC 6522) with a human-readable part, the <c>message/delivery-status</c> part and the original
/// message's header block as <c>text/rfc822-headers</c>. The body is not returned, as Postfix does by
/// default: it may be large, and the headers identify the message.
/// </summary>
internal static class DeliveryStatusNotification
{
    /// <param name="reportingMta">The host name the report comes from.</param>
    /// <param name="recipient">Who receives the report: the envelope sender, or the operator's bounce address.</param>
    /// <param name="original">The spooled message's content; only its header block is used.</param>
    public static byte[] Build(string reportingMta, string queueId, string recipient, DateTimeOffset arrival, DateTimeOffset now,
        IReadOnlyList<FailedRecipient> failed, ReadOnlySpan<byte> original)
    {
        ArgumentNullException.ThrowIfNull(failed);
        ArgumentOutOfRangeException.ThrowIfZero(failed.Count);
        string mta = Clean(reportingMta);
        string boundary = $"{queueId}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}/{mta}";
        var text = new StringBuilder(1024);
        Line(text, $"From: Mail Delivery System <MAILER-DAEMON@{mta}>");
        Line(text, $"To: <{Clean(recipient)}>");
        Line(text, "Subject: Undelivered Mail Returned to Sender");
        Line(text, $"Date: {Rfc5322Date(now)}");
        Line(text, $"Message-ID: <{queueId}.{now.ToUnixTimeMilliseconds()}.dsn@{mta}>");
        // RFC 3834 5: an automatic reply, so that auto-responders stay quiet.
        Line(text, "Auto-Submitted: auto-replied");
        Line(text, "MIME-Version: 1.0");
        Line(text, $"Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"");
        Line(text, "");
        Line(text, "This is a MIME-encapsulated message.");
        Line(text, "");

        Line(text, $"--{boundary}");
        Line(text, "Content-Type: text/plain; charset=utf-8");
        Line(text, "Content-Description: Notification");
        Line(text, "");
        Line(text, $"This is the mail system at host {mta}.");
        Line(text, "");
        Line(text, "Your message could not be delivered to one or more recipients.");
        Line(text, $"It arrived at {Rfc5322Date(arrival)} with queue id {queueId}.");
        Line(text, "");
        foreach (FailedRecipient f in failed)
        {
            Line(text, $"<{Clean(f.Address)}>: {Diagnostic(f)}");
        }

        Line(text, "");
        Line(text, $"--{boundary}");
        Line(text, "Content-Type: message/delivery-status");
        Line(text, "Content-Description: Delivery report");
        Line(text, "");
        // RFC 3464 2.2: per-message fields, then one block per recipient, blocks separated by empty lines.
        Line(text, $"Reporting-MTA: dns; {mta}");
        Line(text, $"Arrival-Date: {Rfc5322Date(arrival)}");
        foreach (FailedRecipient f in failed)
        {
            Line(text, "");
            Line(text, $"Final-Recipient: {AddressType(f.Address)}; {Clean(f.Address)}");
            Line(text, "Action: failed");
            Line(text, $"Status: {Status(f)}");
            if (f.Reply is { } reply)
            {
                // RFC 3464 2.3.6: the diagnostic type "smtp" carries the reply as the remote MTA gave it.
                Line(text, $"Diagnostic-Code: smtp; {Clean(reply.ToString())}");
            }

            Line(text, $"Last-Attempt-Date: {Rfc5322Date(now)}");
        }

        Line(text, "");
        Line(text, $"--{boundary}");
        Line(text, "Content-Type: text/rfc822-headers");
        Line(text, "Content-Description: Undelivered Message Headers");
        Line(text, "");

        byte[] head = Encoding.UTF8.GetBytes(text.ToString());
        ReadOnlySpan<byte> headers = HeaderBlock(original);
        byte[] tail = Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n");
        var message = new byte[head.Length + headers.Length + tail.Length];
        head.CopyTo(message, 0);
        headers.CopyTo(message.AsSpan(head.Length));
        tail.CopyTo(message, head.Length + headers.Length);
        return message;
    }

    /// <summary>The header block without the empty line that ends it, and without its last line end.</summary>
    internal static ReadOnlySpan<byte> HeaderBlock(ReadOnlySpan<byte> message)
    {
        int end = message.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            end = message.EndsWith("\r\n"u8) ? message.Length - 2 : message.Length;
        }

        return message[..end];
    }

    /// <summary>RFC 3463: the reply's enhanced code when it has one of the right class, else the class's generic code.</summary>
    internal static string Status(FailedRecipient failed)
    {
        if (failed.Reply is not { } reply)
        {
            return "4.4.7";
        }

        char kind = reply.Code >= 500 ? '5' : '4';
        return reply.EnhancedCode.Length > 0 && reply.EnhancedCode[0] == kind ? reply.EnhancedCode : $"{kind}.0.0";
    }

    private static string Diagnostic(FailedRecipient f) =>
        f.Reply is { } reply
            ? (f.Expired ? "delivery expired; last reply: " : "") + Clean(reply.ToString())
            : "delivery expired before any attempt";

    // RFC 6533 3: an address with non-ASCII characters is of type utf-8, not rfc822.
    private static string AddressType(string address) => Ascii.IsValid(address) ? "rfc822" : "utf-8";

    private static string Rfc5322Date(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("ddd, dd MMM yyyy HH:mm:ss '+0000'", CultureInfo.InvariantCulture);

    /// <summary>A reply or address as one header-safe line: line ends and other control characters become spaces.</summary>
    private static string Clean(string value)
    {
        var clean = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            clean.Append(char.IsControl(c) ? ' ' : c);
        }

        return clean.ToString();
    }

    private static void Line(StringBuilder text, string line) => text.Append(line).Append("\r\n");
}
