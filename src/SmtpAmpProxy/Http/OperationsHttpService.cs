using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Metrics;

namespace SmtpAmpProxy.Http;

/// <summary>
/// The operations port (<c>Proxy:Http:Endpoint</c>): <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c>
/// on a bare Kestrel of its own, inside the appliance's host. It starts before the SMTP listeners and
/// stops after they have drained, so probes see the whole life of the process.
/// </summary>
internal sealed class OperationsHttpService(
    ProxyConfiguration configuration, ProxyOptions options, ReadinessCheck readiness, IServiceProvider services, ILoggerFactory loggerFactory)
    : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("SmtpAmpProxy.Http");
    private WebApplication? _app;
    private PrometheusExporter? _exporter;

    /// <summary>The endpoint actually bound (port 0 resolved); null while stopped or disabled.</summary>
    public IPEndPoint? BoundEndPoint { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var configured = options.Http.Endpoint;
        var endPoint = ParseEndpoint(configured);
        if (endPoint is null)
        {
            HttpLog.Disabled(_logger, configured);
            return;
        }

        _exporter = services.GetRequiredService<PrometheusExporter>();

        // The empty builder reads no appsettings, environment or command line of its own: the
        // appliance's configuration is the only one, and ASPNETCORE_URLS cannot move this port.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = "smtp-amp-proxy",
            ContentRootPath = configuration.ContentRoot,
        });
        builder.Services.AddLogging();
        builder.Services.Replace(ServiceDescriptor.Singleton(loggerFactory));

        // The appliance's host owns SIGTERM and Ctrl+C; a second console lifetime would race it.
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // Probes and one scraper: a flood on this port must not take memory from the relay.
            kestrel.Limits.MaxConcurrentConnections = 64;
            kestrel.Limits.MaxRequestBodySize = 0;
            kestrel.Listen(endPoint);
        });

        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var uri = new Uri(address);
        BoundEndPoint = new IPEndPoint(IPAddress.Parse(uri.Host.Trim('[', ']')), uri.Port);
        HttpLog.Listening(_logger, address);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
            BoundEndPoint = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _app = null;
        }
    }

    /// <summary>
    /// <c>address:port</c>, <c>[v6]:port</c> or <c>*:port</c>; empty or <c>none</c> turns HTTP off.
    /// Throws <see cref="ConfigurationException"/> naming the key for anything else.
    /// </summary>
    internal static IPEndPoint? ParseEndpoint(string? value)
    {
        var text = value?.Trim() ?? "";
        if (text.Length == 0 || text.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var colon = text.LastIndexOf(':');
        var host = colon > 0 ? text[..colon] : "";
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            host = "";
        }

        if (colon > 0
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            && port <= IPEndPoint.MaxPort)
        {
            if (host == "*")
            {
                return new IPEndPoint(IPAddress.Any, port);
            }

            if (IPAddress.TryParse(host, out var address))
            {
                return new IPEndPoint(address, port);
            }
        }

        throw new ConfigurationException(
            $"Proxy:Http:Endpoint: '{value}' is not an address:port such as 0.0.0.0:8080 (or 'none' to turn HTTP off)");
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.Headers.Allow = "GET, HEAD";
            await WriteTextAsync(response, StatusCodes.Status405MethodNotAllowed, "method not allowed\n").ConfigureAwait(false);
            return;
        }

        switch (request.Path.Value)
        {
            case "/healthz":
                await WriteTextAsync(response, StatusCodes.Status200OK, "ok\n").ConfigureAwait(false);
                break;
            case "/readyz":
                var ready = await readiness.CheckAsync(context.RequestAborted).ConfigureAwait(false);
                await WriteTextAsync(response, ready.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable,
                    ready.IsReady ? "ready\n" : $"not ready: {ready.Reason}\n").ConfigureAwait(false);
                break;
            case "/metrics":
                response.ContentType = PrometheusExporter.ContentType;
                await response.WriteAsync(_exporter!.Scrape(), context.RequestAborted).ConfigureAwait(false);
                break;
            default:
                await WriteTextAsync(response, StatusCodes.Status404NotFound, "not found: try /healthz, /readyz or /metrics\n").ConfigureAwait(false);
                break;
        }
    }

    private static Task WriteTextAsync(HttpResponse response, int status, string text)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync(text, response.HttpContext.RequestAborted);
    }

    /// <summary>Starts and stops only when the outer host says so.</summary>
    private sealed class EmbeddedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
