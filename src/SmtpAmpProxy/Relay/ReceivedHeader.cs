using System.Globalization;
using System.Text;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Relay;

/// <summary>
/// The trace field of RFC 5321 §4.4, with the protocol names of RFC 3848, and of RFC 6531 §4.3 for a
/// transaction whose MAIL carried SMTPUTF8 (UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA).
/// </summary>
internal static class ReceivedHeader
{
    public static byte[] Create(SmtpSessionInfo session, string serverName, string id, IReadOnlyList<string> recipients, DateTimeOffset now,
        bool smtpUtf8 = false)
    {
        var protocol = (smtpUtf8 ? "UTF8SMTP" : "ESMTP") + (session.IsTls, session.AuthenticatedUser is not null) switch
        {
            (true, true) => "SA",
            (true, false) => "S",
            (false, true) => "A",
            _ => "",
        };
        var address = session.RemoteEndPoint.Address;
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var literal = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"IPv6:{address}" : address.ToString();
        var helo = string.IsNullOrEmpty(session.HeloName) ? "unknown" : session.HeloName;
        var builder = new StringBuilder(256)
            .Append("Received: from ").Append(helo).Append(" ([").Append(literal).Append("])\r\n")
            .Append("\tby ").Append(serverName).Append(" (smtp-amp-proxy) with ").Append(protocol).Append(" id ").Append(id);

        // Naming the recipient only when there is one keeps a Bcc list out of every copy (as Postfix does).
        if (recipients.Count == 1)
        {
            builder.Append("\r\n\tfor <").Append(recipients[0]).Append('>');
        }

        builder.Append(";\r\n\t").Append(now.ToString("ddd, dd MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture))
            .Append(now.ToString("zzz", CultureInfo.InvariantCulture).Replace(":", "", StringComparison.Ordinal))
            .Append("\r\n");

        // Addresses may be UTF-8 under SMTPUTF8 (RFC 6532 allows UTF-8 in header fields then).
        return Encoding.UTF8.GetBytes(builder.ToString());
    }
}
