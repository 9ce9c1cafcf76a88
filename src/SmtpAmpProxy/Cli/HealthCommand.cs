using System.Net;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Http;

namespace SmtpAmpProxy.Cli;

/// <summary>
/// <c>smtp-amp-proxy health [--url URL]</c>: exit 0 when the URL answers 200 within 3 s, else 1.
/// The container's HEALTHCHECK runs it, because the runtime image carries no curl or wget.
/// </summary>
internal static class HealthCommand
{
    public const int Healthy = 0;
    public const int Unhealthy = 1;
    public const int UsageError = 2;

    private const string EndpointVariable = "Proxy__Http__Endpoint";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) =>
        RunAsync(args, output, error, Environment.GetEnvironmentVariable(EndpointVariable));

    /// <param name="configuredEndpoint">
    /// <c>Proxy__Http__Endpoint</c> as the server sees it, so a moved port needs no second setting
    /// in the HEALTHCHECK.
    /// </param>
    internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, string? configuredEndpoint)
    {
        string? url = null;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--url" && i + 1 < args.Length)
            {
                url = args[++i];
            }
            else if (args[i].StartsWith("--url=", StringComparison.Ordinal))
            {
                url = args[i]["--url=".Length..];
            }
            else
            {
                await error.WriteLineAsync("usage: smtp-amp-proxy health [--url http://127.0.0.1:8080/healthz]").ConfigureAwait(false);
                return UsageError;
            }
        }

        url ??= DefaultUrl(configuredEndpoint);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            await error.WriteLineAsync($"health: '{url}' is not an http:// URL").ConfigureAwait(false);
            return UsageError;
        }

        using var client = new HttpClient { Timeout = Timeout };
        try
        {
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
            if (response.StatusCode == System.Net.HttpStatusCode.OK)
            {
                await output.WriteLineAsync($"healthy: {uri} answered 200").ConfigureAwait(false);
                return Healthy;
            }

            await error.WriteLineAsync($"unhealthy: {uri} answered {(int)response.StatusCode}").ConfigureAwait(false);
            return Unhealthy;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"unhealthy: {uri}: {e.Message}").ConfigureAwait(false);
            return Unhealthy;
        }
        catch (TaskCanceledException)
        {
            await error.WriteLineAsync($"unhealthy: {uri} did not answer within {Timeout.TotalSeconds} s").ConfigureAwait(false);
            return Unhealthy;
        }
    }

    /// <summary>The configured address and port; loopback for a wildcard bind, 8080 when nothing is set.</summary>
    internal static string DefaultUrl(string? configuredEndpoint)
    {
        IPEndPoint? endPoint;
        try
        {
            endPoint = OperationsHttpService.ParseEndpoint(configuredEndpoint);
        }
        catch (ConfigurationException)
        {
            endPoint = null;
        }

        if (endPoint is null || endPoint.Port == 0)
        {
            return "http://127.0.0.1:8080/healthz";
        }

        var host = endPoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback
            : endPoint.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback
            : endPoint.Address;
        return new UriBuilder(Uri.UriSchemeHttp, host.ToString(), endPoint.Port, "/healthz").Uri.ToString();
    }
}
