using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Metrics;

namespace SmtpAmpProxy.Webhook;

/// <summary>
/// The listener SendGrid posts to (<c>Proxy:Webhook:Endpoint</c>), apart from the operations port:
/// this one faces the internet, the other only the cluster. It serves the webhook route and nothing
/// else, on a Kestrel of its own inside the appliance's host. Not a second endpoint of the host's
/// Kestrel: that server's limits (connections, no request bodies) are set so probes cannot be
/// starved, and they apply to every endpoint it has; a flood on this port must not take the
/// probes' connections, and <c>/metrics</c> must not answer here.
/// </summary>
internal sealed class WebhookListener(
    ProxyConfiguration configuration, WebhookOptions options, IServiceProvider services, ILoggerFactory loggerFactory)
    : IHostedService, IAsyncDisposable
{
    /// <summary>SendGrid posts batches from a few connections at a time; the rest is noise or a flood.</summary>
    public const int MaxConnections = 128;

    /// <summary>SendGrid sends a handful of short headers; Kestrel's default is 32 KiB.</summary>
    public const int MaxHeaderBytes = 16 * 1024;

    private readonly ILogger _logger = loggerFactory.CreateLogger("SmtpAmpProxy.Webhook");
    private WebApplication? _app;

    /// <summary>The endpoint actually bound (port 0 resolved); null while stopped or off.</summary>
    public IPEndPoint? BoundEndPoint { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (WebhookOptions.ParseEndpoint(options.Endpoint) is not { } endPoint)
        {
            return;
        }

        var handler = services.GetRequiredService<SendGridWebhookHandler>();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = "smtp-amp-proxy-webhook",
            ContentRootPath = configuration.ContentRoot,
        });
        builder.Services.AddLogging();
        builder.Services.Replace(ServiceDescriptor.Singleton(loggerFactory));
        builder.Services.AddRouting();
        builder.Services.AddSingleton(handler);
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = MaxConnections;
            // One byte over the handler's own limit, so the handler sees the excess and counts it.
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes + 1;
            kestrel.Limits.MaxRequestHeadersTotalSize = MaxHeaderBytes;
            kestrel.Listen(endPoint);
        });

        var app = builder.Build();
        app.MapSendGridWebhook();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var uri = new Uri(address);
        BoundEndPoint = new IPEndPoint(IPAddress.Parse(uri.Host.Trim('[', ']')), uri.Port);
        WebhookLog.Listening(_logger, address);
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

    /// <summary>Starts and stops only when the appliance's host says so.</summary>
    private sealed class EmbeddedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

internal static class WebhookServiceCollectionExtensions
{
    /// <summary>
    /// The Event Webhook's handler, metrics and listener. The listener binds only when
    /// <c>Proxy:Webhook:Endpoint</c> is set; the handler can be mapped into another host with
    /// <see cref="SendGridWebhookEndpoints.MapSendGridWebhook"/>.
    /// </summary>
    public static IServiceCollection AddSendGridWebhook(this IServiceCollection services)
    {
        services.TryAddSingleton(provider => provider.GetRequiredService<ProxyOptions>().Webhook);
        services.TryAddSingleton(provider => new EngagementMetrics(provider.GetRequiredService<ProxyMetrics>()));
        services.TryAddSingleton(provider =>
        {
            var options = provider.GetRequiredService<WebhookOptions>();

            // The options validator has checked the key at start; this only fails when it was skipped.
            if (!SignedEventVerifier.TryCreate(options.PublicKey, out var verifier, out var error))
            {
                throw new ConfigurationException($"Proxy:Webhook:PublicKey: {error}");
            }

            return new SendGridWebhookHandler(options, verifier!, provider.GetRequiredService<EngagementMetrics>(),
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>());
        });
        services.TryAddSingleton<WebhookListener>();
        services.AddHostedService(provider => provider.GetRequiredService<WebhookListener>());
        return services;
    }
}
