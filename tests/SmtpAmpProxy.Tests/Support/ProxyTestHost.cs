using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Http;
using SmtpAmpProxy.Webhook;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>The whole appliance in-process on 127.0.0.1, port 0, with its log lines captured.</summary>
internal sealed class ProxyTestHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly TempDirectory _directory;

    private ProxyTestHost(IHost host, TempDirectory directory, CapturingLoggerProvider logs, ProxyConfiguration configuration)
    {
        _host = host;
        _directory = directory;
        Logs = logs;
        Configuration = configuration;
    }

    public CapturingLoggerProvider Logs { get; }

    public ProxyConfiguration Configuration { get; }

    public IPEndPoint EndPoint => _host.Services.GetRequiredService<SmtpProxyService>().BoundEndPoints[0];

    /// <summary>The operations HTTP port; a test turns it on with <c>Proxy:Http:Endpoint=127.0.0.1:0</c>.</summary>
    public IPEndPoint HttpEndPoint => _host.Services.GetRequiredService<OperationsPort>().BoundEndPoint
        ?? throw new InvalidOperationException("HTTP is off: pass Proxy:Http:Endpoint=127.0.0.1:0");

    /// <summary>The Event Webhook listener; a test turns it on with <c>Proxy:Webhook:Endpoint=127.0.0.1:0</c>.</summary>
    public IPEndPoint WebhookEndPoint => _host.Services.GetRequiredService<WebhookListener>().BoundEndPoint
        ?? throw new InvalidOperationException("the webhook is off: pass Proxy:Webhook:Endpoint=127.0.0.1:0");

    public IServiceProvider Services => _host.Services;

    public string Outbox => Path.Combine(_directory.Path, "outbox");

    public string WorkDirectory => _directory.Path;

    /// <summary>Settings that relay over plain SMTP to an upstream on 127.0.0.1 (no TLS, no AUTH), plus <paramref name="extra"/>.</summary>
    public static Dictionary<string, string> SmtpUpstreamSettings(int port, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string>
        {
            ["Proxy:Upstream:Mode"] = "Smtp",
            ["Proxy:Upstream:Host"] = "127.0.0.1",
            ["Proxy:Upstream:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Proxy:Upstream:Tls"] = "None",
            ["Proxy:Upstream:Username"] = "",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Starts with the file-drop upstream unless <paramref name="settings"/> says otherwise.</summary>
    /// <param name="configureServices">Replaces services after the appliance's own (a fake clock).</param>
    public static async Task<ProxyTestHost> StartAsync(
        IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? configureServices = null)
    {
        var directory = new TempDirectory();
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Proxy:Listen:0:Endpoint"] = "127.0.0.1:0",
            ["Proxy:Listen:0:Tls"] = "StartTls",
            ["Proxy:Upstream:Mode"] = "Directory",
            ["Proxy:Upstream:Directory"] = Path.Combine(directory.Path, "outbox"),
            ["Proxy:Tls:CertificatePath"] = Path.Combine(directory.Path, "absent.crt"),
            ["Proxy:Tls:KeyPath"] = Path.Combine(directory.Path, "absent.key"),

            // Off unless asked for: the default 0.0.0.0:8080 is one port for every test host.
            ["Proxy:Http:Endpoint"] = "none",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            values[key] = value;
        }

        // No file and no real environment: what the test says is all there is.
        var configuration = ProxyConfiguration.Load(
            [.. values.Select(pair => $"--{pair.Key}={pair.Value}")],
            environmentOverride: new Dictionary<string, string?>());
        var errors = ProxyOptionsValidator.Validate(configuration.Options, configuration.ContentRoot);
        Assert.Empty(errors);

        var logs = new CapturingLoggerProvider();
        var host = ProxyHost.Build(configuration, services =>
        {
            services.AddSingleton<ILoggerProvider>(logs);
            configureServices?.Invoke(services);
        });
        await host.StartAsync(TestContext.Current.CancellationToken);
        return new ProxyTestHost(host, directory, logs, configuration);
    }

    public string[] OutboxFiles() =>
        Directory.Exists(Outbox) ? [.. Directory.GetFiles(Outbox, "*.eml").Order(StringComparer.Ordinal)] : [];

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.StopAsync(stop.Token);
        _host.Dispose();
        _directory.Dispose();
    }
}
