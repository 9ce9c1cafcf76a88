using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Http;

/// <summary>
/// Ready means a load balancer may send mail here. Each condition is one health check tagged
/// <see cref="Tag"/> that asks one component, so <c>/readyz</c> names the one that failed.
/// </summary>
internal static class ReadinessChecks
{
    public const string Tag = "ready";

    public static IHealthChecksBuilder AddReadinessChecks(this IHealthChecksBuilder checks) => checks
        .AddCheck<HostRunningCheck>("host", tags: [Tag])
        .AddCheck<ListenersCheck>("listeners", tags: [Tag])
        .AddCheck<UpstreamCheck>("upstream", tags: [Tag])
        .AddCheck<SpillFolderCheck>("spill-folder", tags: [Tag]);

    internal static HealthCheckResult From(Readiness readiness) =>
        readiness.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(readiness.Reason);
}

/// <summary>Once the host stops, the balancer should send no new sessions while the listeners drain.</summary>
internal sealed class HostRunningCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("shutting down")
            : HealthCheckResult.Healthy());
}

/// <summary>Every configured SMTP listener is bound.</summary>
internal sealed class ListenersCheck(SmtpProxyService smtp, ProxyOptions options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var bound = smtp.BoundEndPoints.Count;
        var configured = options.EffectiveListen.Count;
        return Task.FromResult(bound < configured
            ? HealthCheckResult.Unhealthy($"{bound} of {configured} SMTP listeners bound")
            : HealthCheckResult.Healthy());
    }
}

/// <summary>
/// The upstream can take mail (see <see cref="UpstreamReadiness"/>). In Queue mode an upstream that is
/// down leaves the instance ready, Degraded, saying so: accepting mail to deliver later is the point.
/// </summary>
internal sealed class UpstreamCheck(UpstreamReadiness upstream, ProxyOptions options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var readiness = await upstream.CheckAsync(cancellationToken).ConfigureAwait(false);
        if (options.Relay.Mode != RelayMode.Queue)
        {
            return ReadinessChecks.From(readiness);
        }

        return readiness.IsReady
            ? HealthCheckResult.Healthy("queue mode; upstream ok")
            : HealthCheckResult.Degraded($"queue mode; upstream {readiness.Reason}; accepted mail is spooled and retried");
    }
}

/// <summary>
/// Messages over the memory threshold are spilled to <c>Proxy:Limits:SpillDirectory</c> while they are handled; a
/// folder that cannot take a block (missing, read-only, full) would answer every large message with 452 4.3.1.
/// </summary>
internal sealed class SpillFolderCheck(SpillFolder spill) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(spill.CanWrite(out var reason) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(reason));
}
