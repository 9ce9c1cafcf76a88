using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Webhook;

/// <summary>
/// <c>POST /webhooks/sendgrid</c>: checks a batch the way SendGrid's Signed Event Webhook asks, then
/// counts it. Cheap refusals come first: headers, then the timestamp, before a byte of the body is
/// read; the body is read once, bounded in size and time, verified, then parsed.
/// </summary>
internal sealed class SendGridWebhookHandler(
    WebhookOptions options, SignedEventVerifier verifier, EngagementMetrics metrics, TimeProvider time, ILoggerFactory loggerFactory)
{
    public const string Route = "/webhooks/sendgrid";

    private readonly ILogger _logger = loggerFactory.CreateLogger("SmtpAmpProxy.Webhook");
    private readonly SeenBatches _seen = new(options.MaxSkew, time);

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var signature = request.Headers[SignedEventVerifier.SignatureHeader].ToString();
        var timestamp = request.Headers[SignedEventVerifier.TimestampHeader].ToString();
        if (signature.Length == 0 || timestamp.Length == 0)
        {
            Refuse(context, StatusCodes.Status403Forbidden, EngagementMetrics.Unsigned);
            return;
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            Refuse(context, StatusCodes.Status403Forbidden, EngagementMetrics.BadSignature);
            return;
        }

        // Both ways: a timestamp from the future is as much a replay risk as one from the past.
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        if (Math.Abs((decimal)now - seconds) > (decimal)options.MaxSkew.TotalSeconds)
        {
            Refuse(context, StatusCodes.Status403Forbidden, EngagementMetrics.Stale);
            return;
        }

        if (request.ContentLength > options.MaxBodyBytes)
        {
            Refuse(context, StatusCodes.Status413PayloadTooLarge, EngagementMetrics.TooLarge);
            return;
        }

        byte[]? body = null;
        try
        {
            var (read, length, result) = await ReadBodyAsync(context).ConfigureAwait(false);
            body = read;
            if (result is not null)
            {
                Refuse(context, result switch
                {
                    EngagementMetrics.TooLarge => StatusCodes.Status413PayloadTooLarge,
                    EngagementMetrics.Timeout => StatusCodes.Status408RequestTimeout,
                    _ => StatusCodes.Status400BadRequest,
                }, result);
                return;
            }

            var content = body.AsSpan(0, length);
            if (!verifier.Verify(timestamp, content, signature, out var digest))
            {
                Refuse(context, StatusCodes.Status403Forbidden, EngagementMetrics.BadSignature);
                return;
            }

            // A signed batch seen before (a replay inside the skew window, or SendGrid retrying a
            // request whose answer it lost) was counted once: acknowledged, not counted again.
            if (!_seen.TryAdd(digest, seconds))
            {
                metrics.Request(EngagementMetrics.Duplicate);
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            Dictionary<EngagementKey, long> counts;
            try
            {
                counts = EngagementBatch.Count(content);
            }
            catch (JsonException)
            {
                Refuse(context, StatusCodes.Status400BadRequest, EngagementMetrics.Malformed);
                return;
            }

            metrics.Events(counts);
            metrics.Request(EngagementMetrics.Accepted);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                WebhookLog.Batch(_logger, Client(context), counts.Values.Sum(), length);
            }

            context.Response.StatusCode = StatusCodes.Status204NoContent;
        }
        finally
        {
            if (body is not null)
            {
                ArrayPool<byte>.Shared.Return(body);
            }
        }
    }

    /// <summary>
    /// The body into one pooled buffer, at most <see cref="WebhookOptions.MaxBodyBytes"/>, within
    /// <see cref="WebhookOptions.BodyTimeout"/> on the injected clock. The result names a refusal, or is null.
    /// </summary>
    private async Task<(byte[] Buffer, int Length, string? Result)> ReadBodyAsync(HttpContext context)
    {
        var limit = (int)options.MaxBodyBytes;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1L, Math.Max(context.Request.ContentLength ?? 0, 16 * 1024) + 1));
        var length = 0;
        using var deadline = new CancellationTokenSource(options.BodyTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, context.RequestAborted);
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1L, buffer.Length * 2L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), linked.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return (buffer, length, null);
                }

                length += read;
                if (length > limit)
                {
                    return (buffer, length, EngagementMetrics.TooLarge);
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return (buffer, length, EngagementMetrics.Timeout);
        }
        catch (BadHttpRequestException e)
        {
            // The server's own body limit, or broken chunked framing.
            return (buffer, length, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? EngagementMetrics.TooLarge : EngagementMetrics.Malformed);
        }
    }

    private void Refuse(HttpContext context, int status, string result)
    {
        metrics.Request(result);
        WebhookLog.Refused(_logger, Client(context), status, result);
        context.Response.StatusCode = status;

        // The rest of a refused body is not worth draining: the connection goes.
        if (result is EngagementMetrics.TooLarge or EngagementMetrics.Timeout || context.Request.ContentLength is null)
        {
            context.Response.Headers.Connection = "close";
        }
    }

    private static string Client(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}

/// <summary>Where the webhook route goes in whichever ASP.NET Core host serves it.</summary>
internal static class SendGridWebhookEndpoints
{
    /// <summary>Maps <c>POST /webhooks/sendgrid</c> to the <see cref="SendGridWebhookHandler"/> registered with <c>AddSendGridWebhook</c>.</summary>
    public static IEndpointConventionBuilder MapSendGridWebhook(this IEndpointRouteBuilder endpoints)
    {
        var handler = endpoints.ServiceProvider.GetRequiredService<SendGridWebhookHandler>();
        return endpoints.MapPost(SendGridWebhookHandler.Route, handler.HandleAsync);
    }
}
