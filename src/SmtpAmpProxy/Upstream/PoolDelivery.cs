using System.Net;
using System.Text;
using SmtpAmpProxy.Queue.Delivery;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Upstream;

/// <summary>
/// Queue mode's deliveries through the relay's upstream: a lease from the same pool, under the same login
/// circuit breaker and health that Mirror mode and readiness use, one whole transaction pipelined per attempt.
/// </summary>
internal sealed class PoolDelivery(SmtpUpstream upstream) : IMessageDelivery
{
    // The delivery workers are one client of the pool: together they hold at most one client's share,
    // so a long queue cannot take every upstream connection from senders in the same process.
    private static readonly IPAddress QueueClient = IPAddress.IPv6None;

    public async Task<IReadOnlyList<SmtpReply>> DeliverAsync(DeliveryRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        int count = request.Recipients.Count;
        var (lease, refusal, _) = await upstream.RentAsync(QueueClient, ct).ConfigureAwait(false);
        if (lease is null)
        {
            return DeliveryReplies.ForAll(count, refusal);
        }

        // Whether the session ended between transactions, so the pool may keep it.
        bool between = false;
        try
        {
            SmtpClientConnection connection = lease.Connection;
            if (RequiresSmtpUtf8(request.MailParameters) && !connection.Extensions.Contains("SMTPUTF8"))
            {
                // Accepted while the upstream offered it; sent without it, UTF-8 addresses or header fields would
                // reach a server that never agreed to them (RFC 6531). A bounce, as Postfix gives.
                between = true;
                return DeliveryReplies.ForAll(count, Utf8NotOffered);
            }

            SmtpEnvelopeReplies envelope = await connection
                .SendEnvelopeAsync(request.Sender, Parameters(request.MailParameters, connection.Extensions), request.Recipients, withData: true, ct)
                .ConfigureAwait(false);
            SmtpReply? final = envelope.Data;
            if (!envelope.Mail.IsPositive)
            {
                between = true;
            }
            else if (envelope.Data is { Code: 354 } && envelope.Rcpts.Any(r => r.IsPositive))
            {
                final = await connection.SendContentAsync([request.Content], ct).ConfigureAwait(false);
                between = true;
            }
            else if (envelope.Data is { Code: 354 })
            {
                // RFC 2920 3.1: DATA accepted with no recipient; only closing leaves it without a message.
                final = null;
            }

            return DeliveryReplies.PerRecipient(envelope.Mail, envelope.Rcpts, final, count);
        }
        catch (SmtpConnectionException e)
        {
            // Lost after the content may have arrived: the retry can repeat the message (at least once).
            return DeliveryReplies.ForAll(count, new SmtpReply(451, "4.4.2", "Upstream connection lost: " + upstream.Health.Sanitize(e)));
        }
        finally
        {
            if (between)
            {
                await lease.ReturnAsync().ConfigureAwait(false);
            }
            else
            {
                await lease.DiscardAsync("queue delivery left the transaction open").ConfigureAwait(false);
            }
        }
    }

    internal static readonly SmtpReply Utf8NotOffered = new(553, "5.6.7", "SMTPUTF8 is required, but the upstream does not offer it");

    private static bool RequiresSmtpUtf8(string? spooled) =>
        spooled is not null && spooled.Split(' ').Contains("SMTPUTF8", StringComparer.OrdinalIgnoreCase);

    /// <summary>The spooled MAIL parameters this upstream understands (RFC 6152 BODY, RFC 6531 SMTPUTF8).</summary>
    internal static string? Parameters(string? spooled, IReadOnlySet<string> extensions)
    {
        if (string.IsNullOrEmpty(spooled))
        {
            return null;
        }

        var kept = new StringBuilder();
        foreach (string parameter in spooled.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            bool offered = parameter.StartsWith("BODY=", StringComparison.OrdinalIgnoreCase) ? extensions.Contains("8BITMIME")
                : parameter.Equals("SMTPUTF8", StringComparison.OrdinalIgnoreCase) && extensions.Contains("SMTPUTF8");
            if (offered)
            {
                kept.Append(kept.Length > 0 ? " " : "").Append(parameter);
            }
        }

        return kept.Length == 0 ? null : kept.ToString();
    }
}
