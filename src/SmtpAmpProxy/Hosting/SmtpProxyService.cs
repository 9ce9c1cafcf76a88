using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Access;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Logging;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Hosting;

/// <summary>
/// Runs the SMTP listeners for the lifetime of the host and drains them when it stops. The drain runs in
/// the host's stopping phase, before any service stops, so the operations port still answers probes
/// (with <c>/readyz</c> saying "shutting down") while sessions finish.
/// </summary>
internal sealed class SmtpProxyService(
    ProxyConfiguration configuration, ProxyOptions options, ISmtpSessionHandlerFactory handlers, ILoggerFactory loggerFactory, TimeProvider time,
    SpillFolder spill)
    : IHostedLifecycleService, IAsyncDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("SmtpAmpProxy.Hosting");
    private SmtpServer? _server;
    private int _drained;

    /// <summary>The endpoints actually bound (port 0 resolved), for tests and the start log.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndPoints => _server?.BoundEndPoints ?? [];

    public int ActiveSessions => _server?.ActiveSessions ?? 0;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (configuration.File is { } file)
        {
            ProxyLog.ConfigurationFile(_logger, file);
        }

        var certificate = LoadCertificate();
        var listeners = options.EffectiveListen
            .Select(l => new SmtpListenerOptions { EndPoint = IPEndPoint.Parse(l.Endpoint), Tls = l.Tls, ProxyProtocol = l.ProxyProtocol })
            .ToList();
        if (certificate is null)
        {
            foreach (var listener in listeners.Where(l => l.Tls == TlsMode.StartTls))
            {
                ProxyLog.StartTlsWithoutCertificate(_logger, options.Tls.CertificatePath, listener.EndPoint.ToString());
            }
        }

        if (!options.Access.RequireAuth)
        {
            foreach (var network in RelayExposure.BroadNetworks(options.Access.EffectiveAllowedNetworks))
            {
                ProxyLog.BroadRelayNetwork(_logger, network);
            }
        }

        var limits = options.Limits;
        var access = RelayAccessPolicies.FromOptions(options);
        var serverOptions = new SmtpServerOptions
        {
            ServerName = options.ServerName,
            Listeners = listeners,
            Certificate = certificate,
            TlsProtocols = options.Tls.MinimumVersion == TlsVersion.Tls13 ? SslProtocols.Tls13 : SslProtocols.Tls12 | SslProtocols.Tls13,
            RequireTls = options.Tls.Require,
            Access = access,
            AllowAuthWithoutTls = options.Access.AllowAuthWithoutTls,
            Authenticator = options.Access.Users is { Count: > 0 } || options.Access.AcceptAnyAuth
                ? new ConfiguredAuthenticator(options.Access, access)
                : null,
            MaxMessageBytes = limits.MaxMessageBytes,
            MaxRecipients = limits.MaxRecipients,
            MaxConnections = limits.MaxConnections,
            MaxConnectionsPerIp = limits.MaxConnectionsPerIp,
            MaxCommandLineBytes = limits.MaxCommandLineBytes,
            MaxErrorsPerSession = limits.MaxErrorsPerSession,
            MaxHeaderBytes = limits.MaxHeaderBytes,
            MinDataRateBytesPerSecond = limits.MinDataRateBytesPerSecond,
            MinDataRateGracePeriod = limits.MinDataRateGracePeriod,
            AuthFailuresBeforeDelay = limits.AuthFailuresBeforeDelay,
            AuthFailureDelay = limits.AuthFailureDelay,
            MaxAuthFailures = limits.MaxAuthFailures,
            MaxAuthFailuresPerAddress = limits.MaxAuthFailuresPerAddress,
            AuthFailureWindow = limits.AuthFailureWindow,
            CommandTimeout = limits.CommandTimeout,
            HeloTimeout = limits.HeloTimeout,
            AuthTimeout = limits.AuthTimeout,
            DataTimeout = limits.DataTimeout,
            BareLineFeed = options.Smtp.BareLineFeed,
            BareCarriageReturn = options.Smtp.BareCarriageReturn,
            MemoryBufferBytes = limits.MemoryBufferBytes,
            Spill = spill,
            ProxyProtocolTimeout = options.ProxyProtocol.Timeout,
        };

        _server = new SmtpServer(serverOptions, handlers, loggerFactory, time);
        await _server.StartAsync(cancellationToken).ConfigureAwait(false);
        var upstream = options.Upstream.Mode == UpstreamMode.Directory
            ? $"directory {ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, options.Upstream.Directory)}"
            : $"smtp {options.Upstream.Host}:{options.Upstream.Port} ({options.Upstream.Tls})";
        for (var i = 0; i < _server.BoundEndPoints.Count; i++)
        {
            ProxyLog.Listening(_logger, _server.BoundEndPoints[i].ToString(), listeners[i].Tls.ToString(), upstream);
        }

        ProxyLog.SocketCompletionMode(_logger, SocketCompletions.IsInline ? "inline on the socket event threads" : "on the thread pool");
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => StopAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is null || Interlocked.Exchange(ref _drained, 1) == 1)
        {
            return;
        }

        ProxyLog.Draining(_logger, options.Limits.ShutdownDrainTimeout.TotalSeconds);
        using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        drain.CancelAfter(options.Limits.ShutdownDrainTimeout);
        await _server.StopAsync(drain.Token).ConfigureAwait(false);
        ProxyLog.Stopped(_logger);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private X509Certificate2? LoadCertificate()
    {
        var certificatePath = ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, options.Tls.CertificatePath);
        var keyPath = ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, options.Tls.KeyPath);
        if (!File.Exists(certificatePath) || !File.Exists(keyPath))
        {
            return null;
        }

        try
        {
            return X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new ConfigurationException($"Proxy:Tls:CertificatePath: cannot load '{options.Tls.CertificatePath}' with key '{options.Tls.KeyPath}': {e.Message}", e);
        }
    }
}
