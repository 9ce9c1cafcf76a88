using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Metrics;

namespace SmtpAmpProxy.Http;

internal static class OperationsServiceCollectionExtensions
{
    /// <summary>
    /// Metrics, readiness and the operations HTTP port. Call before the SMTP service is added: hosted
    /// services start in order and stop in reverse, so probes answer until the listeners have drained.
    /// </summary>
    public static IServiceCollection AddProxyOperations(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(provider =>
        {
            var metrics = new ProxyMetrics(provider.GetRequiredService<IMeterFactory>(), provider.GetRequiredService<TimeProvider>());

            // Resolved at observation time: the SMTP service itself depends on these metrics.
            metrics.ObserveActiveSessions(() => provider.GetRequiredService<SmtpProxyService>().ActiveSessions);
            return metrics;
        });
        services.TryAddSingleton<PrometheusExporter>();
        services.TryAddSingleton<ReadinessCheck>();
        services.TryAddSingleton<OperationsHttpService>();
        services.AddHostedService(provider => provider.GetRequiredService<OperationsHttpService>());
        return services;
    }
}
