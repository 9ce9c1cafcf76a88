using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Http;

internal static class OperationsServiceCollectionExtensions
{
    /// <summary>Metrics, readiness checks and what the operations port's routes need.</summary>
    public static IServiceCollection AddProxyOperations(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(provider =>
        {
            // The SDK listens from the moment its provider exists: before the instruments are made, so
            // their first measurements (the zeros below included) are not lost.
            _ = provider.GetService<MeterProvider>();
            var metrics = new ProxyMetrics(provider.GetRequiredService<IMeterFactory>(), provider.GetRequiredService<TimeProvider>());

            // Resolved at observation time: the SMTP service itself depends on these metrics.
            metrics.ObserveActiveSessions(() => provider.GetRequiredService<SmtpProxyService>().ActiveSessions);
            metrics.ObserveSpillFailures(() => provider.GetService<SpillFolder>()?.WriteFailures ?? 0);
            return metrics;
        });
        services.TryAddSingleton<UpstreamReadiness>();
        services.TryAddSingleton<OperationsPort>();
        services.AddRoutingCore();
        services.AddHealthChecks().AddReadinessChecks();
        services.AddOperationsRateLimits();
        return services;
    }
}
