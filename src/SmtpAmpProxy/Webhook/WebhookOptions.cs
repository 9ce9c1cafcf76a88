using System.Net;

namespace SmtpAmpProxy.Webhook;

/// <summary>The <c>Proxy:Webhook</c> section: SendGrid's signed Event Webhook and the tagging that feeds it.</summary>
internal sealed record WebhookOptions
{
    /// <summary>address:port of the listener SendGrid posts to; empty or <c>none</c>: off.</summary>
    public string Endpoint { get; init; } = "";

    /// <summary>The verification key as SendGrid's settings page shows it: base64 of a P-256 SubjectPublicKeyInfo.</summary>
    public string PublicKey { get; init; } = "";

    /// <summary>
    /// How far the signed timestamp may be from now, either way. A captured request replays only
    /// within this window; SendGrid signs when it posts, so minutes cover clock drift and retries.
    /// </summary>
    public TimeSpan MaxSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// SendGrid posts a batch once it reaches 768 KB or 30 s of events; 1 MiB leaves room for one
    /// large event past that mark and bounds what an unsigned flood can make the listener buffer.
    /// </summary>
    public long MaxBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>The whole body must arrive within this time (slow-body attacks hold a buffer and a connection).</summary>
    public TimeSpan BodyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>True: relayed messages carry X-SMTPAPI unique_args naming what the proxy did to them.</summary>
    public bool TagMessages { get; init; }

    public bool IsEnabled => ParseEndpoint(Endpoint) is not null;

    /// <summary><c>address:port</c> or <c>[v6]:port</c>; null when empty or <c>none</c>; throws <see cref="FormatException"/> otherwise.</summary>
    internal static IPEndPoint? ParseEndpoint(string? value)
    {
        var text = value?.Trim() ?? "";
        if (text.Length == 0 || text.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (text.StartsWith("*:", StringComparison.Ordinal))
        {
            text = "0.0.0.0" + text[1..];
        }

        return IPEndPoint.TryParse(text, out var endPoint) && text.Contains(':', StringComparison.Ordinal)
            ? endPoint
            : throw new FormatException($"'{value}' is not an address:port such as 0.0.0.0:8443 (or 'none' to turn the webhook off)");
    }
}

/// <summary>Start-time checks of <see cref="WebhookOptions"/>; each message names its key.</summary>
internal static class WebhookOptionsValidator
{
    public static IEnumerable<string> Validate(WebhookOptions options)
    {
        IPEndPoint? endPoint = null;
        string? endpointError = null;
        try
        {
            endPoint = WebhookOptions.ParseEndpoint(options.Endpoint);
        }
        catch (FormatException e)
        {
            endpointError = e.Message;
        }

        if (endpointError is not null)
        {
            yield return $"Proxy:Webhook:Endpoint: {endpointError}";
        }

        if (endPoint is not null || !string.IsNullOrWhiteSpace(options.PublicKey))
        {
            if (string.IsNullOrWhiteSpace(options.PublicKey))
            {
                yield return "Proxy:Webhook:PublicKey: is empty, but the webhook is on (copy the verification key from SendGrid's Event Webhook settings)";
            }
            else if (SignedEventVerifier.TryCreate(options.PublicKey, out _, out var keyError) is false)
            {
                yield return $"Proxy:Webhook:PublicKey: {keyError}";
            }
        }

        if (options.MaxSkew <= TimeSpan.Zero)
        {
            yield return $"Proxy:Webhook:MaxSkew: must be a positive time span such as 00:05:00 (is {options.MaxSkew})";
        }

        if (options.BodyTimeout <= TimeSpan.Zero)
        {
            yield return $"Proxy:Webhook:BodyTimeout: must be a positive time span such as 00:00:30 (is {options.BodyTimeout})";
        }

        if (options.MaxBodyBytes is <= 0 or > int.MaxValue / 2)
        {
            yield return $"Proxy:Webhook:MaxBodyBytes: must be between 1 and {int.MaxValue / 2} (is {options.MaxBodyBytes})";
        }
    }
}
