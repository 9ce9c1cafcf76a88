using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Http;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Quarantine;
using SmtpAmpProxy.Queue;
using SmtpAmpProxy.Relay;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Upstream;
using SmtpAmpProxy.Webhook;

namespace SmtpAmpProxy.Hosting;

/// <summary>Composes the appliance: options, upstream, relay handler, SMTP listeners, JSON logs.</summary>
internal static class ProxyHost
{
    public static WebApplication Build(ProxyConfiguration configuration, Action<IServiceCollection>? configureServices = null)
    {
        // One host for SMTP and the operations port. The empty builder reads no appsettings, environment
        // or command line of its own: the appliance's configuration is the only one, and ASPNETCORE_URLS
        // cannot move the port.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = "smtp-amp-proxy",
            ContentRootPath = configuration.ContentRoot,
        });
        builder.Configuration.AddConfiguration(configuration.Root);

        // One JSON object per line on stdout: what operators pipe into jq.
        builder.Logging.AddConfiguration(configuration.Root.GetSection("Logging"));
        // A line logged inside a traced transaction names its trace and span (in "Scopes"): a message's
        // outcome line finds its trace in the collector, and the trace finds its log lines.
        builder.Logging.Configure(logging =>
            logging.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        builder.Logging.AddJsonConsole(json =>
        {
            json.IncludeScopes = true;
            json.UseUtcTimestamp = true;
            json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            json.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
        });

        builder.Services.AddProxyOptions(configuration);

        // The host reads its options while it is built, before start-up validation: from the loaded copy.
        builder.Services.Configure<HostOptions>(host =>
            host.ShutdownTimeout = configuration.Options.Limits.ShutdownDrainTimeout + TimeSpan.FromSeconds(5));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(services => CreateRelaySettings(configuration, services.GetRequiredService<ProxyOptions>()));

        // One spill folder: the SMTP server writes to it, readiness probes it, metrics count its failures.
        builder.Services.AddSingleton(services =>
        {
            var spillDirectory = services.GetRequiredService<ProxyOptions>().Limits.SpillDirectory;
            return new SpillFolder(string.IsNullOrEmpty(spillDirectory)
                ? null
                : ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, spillDirectory));
        });
        if (configuration.Options.Relay.Mode == RelayMode.Queue)
        {
            AddQueue(builder.Services, configuration);
        }
        else
        {
            builder.Services.AddSingleton<IUpstream>(services => CreateUpstream(configuration, services));
        }
        builder.Services.AddSingleton<ISmtpSessionHandlerFactory, RelaySessionHandlerFactory>();
        builder.Services.AddSingleton<SmtpProxyService>();
        builder.Services.AddSendGridWebhook();
        builder.Services.AddHostedService(services => services.GetRequiredService<SmtpProxyService>());
        builder.Services.AddProxyTelemetry(builder.Configuration);
        builder.Services.AddProxyOperations();
        UseOperationsPort(builder, configuration.Options.Http);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        app.MapOperations();
        return app;
    }

    /// <summary>Kestrel on <c>Proxy:Http:Endpoint</c>, limited so that slow or many clients cannot starve the probes.</summary>
    private static void UseOperationsPort(WebApplicationBuilder builder, HttpOptions http)
    {
        var endPoint = OperationsPort.ParseEndpoint(http.Endpoint);
        if (endPoint is null)
        {
            builder.Services.AddSingleton<IServer, NoOperationsServer>();
            builder.Services.AddHostedService<OperationsPortLog>();
            return;
        }

        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = http.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
            kestrel.Limits.RequestHeadersTimeout = http.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            kestrel.Limits.MaxRequestBodySize = 0;
            kestrel.Limits.MaxRequestLineSize = 1024;
            kestrel.Limits.MaxRequestHeadersTotalSize = 8 * 1024;

            // No route takes a body; a client that trickles one anyway is cut off like a slow header.
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
            kestrel.Listen(endPoint);
        });
        builder.Services.AddHostedService<OperationsPortLog>();
    }

    private static RelaySettings CreateRelaySettings(ProxyConfiguration configuration, ProxyOptions options) =>
        new(
            options.ServerName,
            new MimeLimits { MaxDepth = options.Limits.MaxMimeDepth, MaxParts = options.Limits.MaxMimeParts, MaxHeaderBlockBytes = options.Limits.MaxHeaderBytes },
            options.Amp,
            options.Smtp.AddReceivedHeader,
            new HashSet<string>(options.Access.AllowedSenderDomains ?? [], StringComparer.OrdinalIgnoreCase),
            options.Dkim,
            options.Dkim.Keys is { Count: > 0 } ? DkimKeyRing.Load(options.Dkim, configuration.ContentRoot) : DkimKeyRing.Empty)
        {
            Quarantine = MessageQuarantine.FromOptions(options.Quarantine, configuration.ContentRoot),
            TagMessages = options.Webhook.TagMessages,
        };

    /// <summary>
    /// Queue mode: the handler's upstream is the spool, and delivery workers take spooled mail to the SMTP
    /// upstream through the same client and pool a Mirror relay uses.
    /// </summary>
    private static void AddQueue(IServiceCollection services, ProxyConfiguration configuration)
    {
        // The validator holds Queue mode to the SMTP upstream: the same pool, health and login breaker as Mirror mode.
        services.AddSingleton(provider => (SmtpUpstream)CreateUpstream(configuration, provider));
        services.AddSingleton(provider =>
        {
            var proxy = provider.GetRequiredService<ProxyOptions>();
            var options = proxy.Queue;
            var queueOptions = new QueueOptions
            {
                Directory = ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, options.Directory),
                MaxBytes = options.MaxBytes,
                MinimalBackoff = options.MinimalBackoff,
                MaximalBackoff = options.MaximalBackoff,
                MaxLifetime = options.MaxLifetime,
                BounceTo = string.IsNullOrEmpty(options.BounceTo) ? null : options.BounceTo,
                Workers = options.Workers,
                ReportingMta = proxy.ServerName,
            };
            var delivery = new PoolDelivery(provider.GetRequiredService<SmtpUpstream>());
            try
            {
                return MailQueue.Open(queueOptions, delivery, provider.GetRequiredService<TimeProvider>(),
                    provider.GetRequiredService<ILoggerFactory>(), provider.GetRequiredService<ProxyMetrics>().Meter);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigurationException($"Proxy:Queue:Directory: cannot open the spool '{queueOptions.Directory}': {e.Message}");
            }
        });
        services.AddSingleton<IUpstream>(provider =>
            new QueueUpstream(provider.GetRequiredService<MailQueue>(), provider.GetRequiredService<SmtpUpstream>()));
        services.AddSingleton<QueueService>();
        services.AddHostedService(provider => provider.GetRequiredService<QueueService>());
    }

    private static IUpstream CreateUpstream(ProxyConfiguration configuration, IServiceProvider services)
    {
        var options = services.GetRequiredService<ProxyOptions>();
        var upstream = options.Upstream;
        if (upstream.Mode == UpstreamMode.Directory)
        {
            return new DirectoryUpstream(ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, upstream.Directory));
        }


        var client = new SmtpClientOptions
        {
            Host = upstream.Host,
            Port = upstream.Port,
            Tls = upstream.Tls,
            Username = string.IsNullOrEmpty(upstream.Username) ? null : upstream.Username,
            Password = string.IsNullOrEmpty(upstream.Password) ? null : upstream.Password,
            ClientName = options.ServerName,
            CaCertificatePath = string.IsNullOrEmpty(upstream.CaCertificatePath)
                ? null
                : ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, upstream.CaCertificatePath),
            ConnectTimeout = upstream.ConnectTimeout,
            CommandTimeout = upstream.CommandTimeout,
            DataTimeout = upstream.DataTimeout,
        };
        var pool = new SmtpPoolOptions
        {
            MaxConnections = upstream.MaxConnections,
            MaxMessagesPerConnection = upstream.MaxMessagesPerConnection,
            IdleTimeout = upstream.IdleTimeout,
        };
        var loggerFactory = services.GetRequiredService<ILoggerFactory>();
        var time = services.GetRequiredService<TimeProvider>();
        var metrics = services.GetRequiredService<Metrics.ProxyMetrics>();
        var logger = loggerFactory.CreateLogger("SmtpAmpProxy.Relay");
        var connections = new SmtpConnectionPool(client, pool, loggerFactory, time);
        var health = new UpstreamHealth(connections.CheckUpstreamAsync, metrics, logger, time, upstream.AuthBackoff, [client.Username, client.Password]);
        var perClient = upstream.MaxConnectionsPerClient > 0 ? upstream.MaxConnectionsPerClient : Math.Max(1, upstream.MaxConnections / 2);
        return new SmtpUpstream(connections, new UpstreamLeaseSettings(upstream.PoolWait, upstream.MaxIdleHold, perClient), metrics, logger, time, health);
    }
}
