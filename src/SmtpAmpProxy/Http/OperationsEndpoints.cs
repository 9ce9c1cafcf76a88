using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Http;

/// <summary>
/// The routes of the operations port: <c>/healthz</c> (liveness: the process serves HTTP),
/// <c>/readyz</c> (every readiness check) and <c>/metrics</c> (Prometheus). Only GET and HEAD are
/// routed; anything else is the router's 405 or 404.
/// </summary>
internal static class OperationsEndpoints
{
    public const string ProbePolicy = "probes";
    public const string ScrapePolicy = "scrapes";

    private static readonly string[] GetOrHead = [HttpMethods.Get, HttpMethods.Head];

    /// <summary>
    /// Concurrency limits per route, so slow or many requests on one cannot starve another:
    /// <c>/healthz</c> is never limited (it does no work), <c>/readyz</c> has its own share (a probe
    /// may wait for the upstream), <c>/metrics</c> a smaller one. Over the limit a request gets 503
    /// at once rather than a queue place.
    /// </summary>
    public static IServiceCollection AddOperationsRateLimits(this IServiceCollection services) =>
        services.AddRateLimiter(limits =>
        {
            limits.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            limits.AddConcurrencyLimiter(ProbePolicy, probe => { probe.PermitLimit = 16; probe.QueueLimit = 0; });
            limits.AddConcurrencyLimiter(ScrapePolicy, scrape => { scrape.PermitLimit = 4; scrape.QueueLimit = 0; });
        });

    public static WebApplication MapOperations(this WebApplication app)
    {
        app.UseRateLimiter();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("SmtpAmpProxy.Http");
        var readiness = new ReadinessTransitions(log);

        app.MapHealthChecks("/healthz", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = (context, _) => WriteTextAsync(context, "ok\n"),
        }).WithMetadata(new HttpMethodMetadata(GetOrHead)).DisableRateLimiting();

        app.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadinessChecks.Tag),
            ResponseWriter = (context, report) => WriteTextAsync(context, readiness.Describe(report) + "\n"),
        }).WithMetadata(new HttpMethodMetadata(GetOrHead)).RequireRateLimiting(ProbePolicy);

        app.MapPrometheusScrapingEndpoint("/metrics")
            .WithMetadata(new HttpMethodMetadata(GetOrHead))
            .RequireRateLimiting(ScrapePolicy);
        return app;
    }

    private static Task WriteTextAsync(HttpContext context, string text)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text, context.RequestAborted);
    }

    /// <summary>"ready", or "not ready: " and each failing check by name; a change is logged once.</summary>
    private sealed class ReadinessTransitions(ILogger logger)
    {
        private readonly Lock _gate = new();
        private bool? _lastReady;

        public string Describe(HealthReport report)
        {
            // Degraded is still ready (answered 200): Queue mode accepts while the upstream is down, and says so.
            var ready = report.Status != HealthStatus.Unhealthy;
            var problems = string.Join("; ", report.Entries
                .Where(entry => entry.Value.Status != HealthStatus.Healthy)
                .Select(entry => $"{entry.Key}: {entry.Value.Description ?? entry.Value.Exception?.Message ?? entry.Value.Status.ToString()}"));
            var text = report.Status == HealthStatus.Healthy ? "ready" : ready ? "ready: " + problems : "not ready: " + problems;
            lock (_gate)
            {
                if (_lastReady != ready)
                {
                    _lastReady = ready;
                    if (ready)
                    {
                        HttpLog.Ready(logger);
                    }
                    else
                    {
                        HttpLog.NotReady(logger, problems);
                    }
                }
            }

            return text;
        }
    }
}
