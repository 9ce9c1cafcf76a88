using System.Net;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Http;

namespace SmtpAmpProxy.Cli;

/// <summary>
/// <c>smtp-amp-proxy health [--url URL] [--config FILE] [--Proxy:Key=value ...]</c>: exit 0 when the URL
/// answers 200 within 3 s, else 1. The container's HEALTHCHECK runs it, because the runtime image carries
/// no curl or wget. Without <c>--url</c> it asks the port the server listens on, found in the same
/// configuration the server reads (file, environment, command line), so a port set anywhere needs no
/// second setting in the HEALTHCHECK.
/// </summary>
internal static class HealthCommand
{
    public const int Healthy = 0;
    public const int Unhealthy = 1;
    public const int UsageError = 2;

    private const string Usage = "usage: smtp-amp-proxy health [--url http://127.0.0.1:8080/healthz] [--config FILE] [--Proxy:Http:Endpoint=...]";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    /// <param name="environmentOverride">The environment to read instead of the process's (tests).</param>
    public static async Task<int> RunAsync(
        string[] args, TextWriter output, TextWriter error, IReadOnlyDictionary<string, string?>? environmentOverride = null)
    {
        string? url = null;
        var configurationArgs = new List<string>();
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
            else if (args[i] is "--config" or "-c" && i + 1 < args.Length)
            {
                configurationArgs.Add(args[i]);
                configurationArgs.Add(args[++i]);
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal)
                || args[i].StartsWith("--Proxy:", StringComparison.OrdinalIgnoreCase))
            {
                configurationArgs.Add(args[i]);
            }
            else
            {
                await error.WriteLineAsync(Usage).ConfigureAwait(false);
                return UsageError;
            }
        }

        if (url is null)
        {
            try
            {
                url = DefaultUrl(ProxyConfiguration.Load(configurationArgs, environmentOverride).Options.Http.Endpoint);
            }
            catch (ConfigurationException e)
            {
                await error.WriteLineAsync($"health: configuration error: {e.Message}").ConfigureAwait(false);
                return UsageError;
            }
        }

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
            endPoint = OperationsPort.ParseEndpoint(configuredEndpoint);
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
