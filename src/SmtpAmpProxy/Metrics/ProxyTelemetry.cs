using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace SmtpAmpProxy.Metrics;

/// <summary>
/// Metrics and traces through the OpenTelemetry SDK: the proxy's meter with the runtime's and the
/// process's, scraped by Prometheus on <c>/metrics</c>, and sent by OTLP when the standard
/// <c>OTEL_EXPORTER_OTLP_*</c> variables name a collector.
/// </summary>
internal static class ProxyTelemetry
{
    public const string ServiceName = "smtp-amp-proxy";

    private static readonly string[] OtlpEndpointKeys =
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];

    public static IServiceCollection AddProxyTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName))
            .WithMetrics(metrics => metrics
                .AddMeter(ProxyMetrics.MeterName)
                .AddRuntimeInstrumentation()
                .AddProcessInstrumentation()
                .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0))
            .WithTracing(tracing => tracing.AddSource(ProxyTracing.SourceName));

        // The meter is named per appliance, not per host: several hosts in one process (tests) each keep
        // only the instruments their own meter factory made.
        services.ConfigureOpenTelemetryMeterProvider((provider, builder) =>
        {
            var factory = provider.GetRequiredService<IMeterFactory>();
            builder.AddView(instrument =>
                instrument.Meter.Name == ProxyMetrics.MeterName && !ReferenceEquals(instrument.Meter.Scope, factory)
                    ? MetricStreamConfiguration.Drop
                    : null);
        });

        // Prometheus reserves a _count suffix for histograms and summaries (promtool check metrics refuses
        // others): these gauges of the runtime and process instrumentation get names without it.
        services.ConfigureOpenTelemetryMeterProvider(builder => builder
            .AddView("dotnet.assembly.count", "dotnet.assemblies.loaded")
            .AddView("dotnet.process.cpu.count", "dotnet.process.cpus")
            .AddView("dotnet.timer.count", "dotnet.timers")
            .AddView("process.thread.count", "process.threads")
            .AddView("process.unix.file_descriptor.count", "process.unix.file_descriptors.open"));

        // Without an endpoint the exporter would send to localhost:4317 and log a failure every minute.
        if (OtlpEndpointKeys.Any(key => !string.IsNullOrWhiteSpace(configuration[key])))
        {
            telemetry.UseOtlpExporter();
        }

        return services;
    }
}
