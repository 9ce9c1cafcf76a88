using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Configuration;

namespace SmtpAmpProxy.Http;

/// <summary>
/// The operations port (<c>Proxy:Http:Endpoint</c>) of the appliance's one host: where it listens, and
/// the endpoint it actually bound once the host has started (port 0 resolved).
/// </summary>
internal sealed class OperationsPort(IServer server)
{
    /// <summary>The endpoint actually bound; null while stopped or when HTTP is off.</summary>
    public IPEndPoint? BoundEndPoint
    {
        get
        {
            var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
            if (address is null || !Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Port == 0)
            {
                return null;
            }

            return IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? new IPEndPoint(ip, uri.Port) : null;
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
}

/// <summary>Stands in for Kestrel when <c>Proxy:Http:Endpoint</c> is <c>none</c>: the host runs, nothing listens.</summary>
internal sealed class NoOperationsServer : IServer
{
    public IFeatureCollection Features { get; } = new FeatureCollection();

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
    }
}

/// <summary>Says where the operations port listens once the host has started (port 0 resolved).</summary>
internal sealed class OperationsPortLog(OperationsPort port, ProxyOptions options, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory)
    : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger("SmtpAmpProxy.Http");
        lifetime.ApplicationStarted.Register(() =>
        {
            if (port.BoundEndPoint is { } bound)
            {
                HttpLog.Listening(logger, new UriBuilder(Uri.UriSchemeHttp, bound.Address.ToString(), bound.Port).Uri.ToString().TrimEnd('/'));
            }
            else
            {
                HttpLog.Disabled(logger, options.Http.Endpoint);
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
