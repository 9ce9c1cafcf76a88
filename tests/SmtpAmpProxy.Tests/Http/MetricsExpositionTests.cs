using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Http;

/// <summary>
/// What <c>/metrics</c> shows for the relay's instruments, measured directly on the host's
/// <see cref="ProxyMetrics"/> and scraped from the OpenTelemetry Prometheus endpoint.
/// </summary>
public sealed class MetricsExpositionTests : IAsyncLifetime
{
    private ProxyTestHost _proxy = null!;
    private ProxyMetrics _metrics = null!;

    public async ValueTask InitializeAsync()
    {
        _proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" });
        _metrics = _proxy.Services.GetRequiredService<ProxyMetrics>();
    }

    public ValueTask DisposeAsync() => _proxy.DisposeAsync();

    private async Task<string> ScrapeAsync()
    {
        var answer = await OpsHttp.SendAsync(_proxy.HttpEndPoint, "/metrics");
        Assert.Equal(System.Net.HttpStatusCode.OK, answer.Status);
        return answer.Body;
    }

    [Fact]
    public async Task Scrape_PromtoolCheckMetrics_Accepts()
    {
        var promtool = Peers.RequireTool("promtool", "prometheus");
        _metrics.RelayCompleted(accepted: true, lost: false, [new AmpAction("amp-last", "moved")], TimeSpan.FromSeconds(1));
        _metrics.MessageRejected("amp-misplaced");

        var result = Peers.Run(promtool, ["check", "metrics"], TimeSpan.FromSeconds(60), stdin: await ScrapeAsync());

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
    }

    [Fact]
    public async Task Scrape_RuntimeAndProcess_Instrumented()
    {
        var text = await ScrapeAsync();

        Assert.Contains("# TYPE dotnet_gc_collections_total counter", text);
        Assert.Contains("# TYPE process_cpu_time_seconds_total counter", text);
    }

    [Fact]
    public async Task Scrape_NothingMeasured_ShowsEveryFamilyAtZero()
    {
        var text = await ScrapeAsync();

        OpsHttp.AssertWellFormed(text);
        foreach (var name in new[] { "received", "relayed", "repaired", "rejected" })
        {
            Assert.Equal(0, OpsHttp.Sample(text, $"smtp_amp_proxy_messages_{name}_total"));
        }

        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_errors_total"));
        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_sessions_active"));
    }

    [Fact]
    public async Task Scrape_Histogram_BucketsAreCumulativeWithSumAndCount()
    {
        _metrics.RelayCompleted(accepted: true, lost: false, [], TimeSpan.FromMilliseconds(20));
        _metrics.RelayCompleted(accepted: true, lost: false, [], TimeSpan.FromSeconds(0.3));
        _metrics.RelayCompleted(accepted: true, lost: false, [], TimeSpan.FromMinutes(10));

        var text = await ScrapeAsync();

        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"0.025\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"0.25\"}"));
        Assert.Equal(2, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"0.5\"}"));
        Assert.Equal(2, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"300\"}"));
        Assert.Equal(3, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"+Inf\"}"));
        Assert.Equal(3, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_count"));
        Assert.Equal(600.32, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_sum")!.Value, precision: 6);
    }

    [Fact]
    public async Task RelayCompleted_RefusedUpstream_CountedAsAReplyNotAsAnError()
    {
        _metrics.UpstreamReply("content", 554);
        _metrics.RelayCompleted(accepted: false, lost: false, [new AmpAction("amp-last", "moved")], TimeSpan.FromSeconds(1));

        var text = await ScrapeAsync();

        // An upstream refusing a message is doing its job: nothing an operator is paged for.
        Assert.Null(OpsHttp.Sample(text, "smtp_amp_proxy_upstream_errors_total{kind=\"refused\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_replies_total{class=\"5xx\",stage=\"content\"}"));
        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_messages_relayed_total"));
        Assert.Null(OpsHttp.Sample(text, "smtp_amp_proxy_messages_repaired_total{action=\"amp-last\"}"));
    }

    [Fact]
    public async Task RelayCompleted_Lost_CountsOnlyTheDuration()
    {
        _metrics.UpstreamFailed(ProxyMetrics.Lost);
        _metrics.RelayCompleted(accepted: false, lost: true, [], TimeSpan.FromSeconds(1));

        var text = await ScrapeAsync();

        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_errors_total{kind=\"lost\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_count"));

        // One transaction's lost connection says nothing about the upstream as a whole: readiness is not told.
        Assert.Null(_metrics.LastUpstream);
    }

    [Fact]
    public async Task Scrape_TwoRepairActions_OneSeriesEach()
    {
        _metrics.RelayCompleted(true, false, [new AmpAction("amp-duplicate", "x"), new AmpAction("amp-after-html", "y")], TimeSpan.Zero);
        _metrics.RelayCompleted(true, false, [new AmpAction("amp-after-html", "z")], TimeSpan.Zero);

        var text = await ScrapeAsync();

        Assert.Equal(2, OpsHttp.Sample(text, "smtp_amp_proxy_messages_repaired_total{action=\"amp-after-html\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_messages_repaired_total{action=\"amp-duplicate\"}"));
        Assert.Equal(2, OpsHttp.Sample(text, "smtp_amp_proxy_messages_relayed_total"));
        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_messages_repaired_total"));
    }

    [Fact]
    public async Task Scrape_LabelValueWithQuoteBackslashAndNewline_IsEscaped()
    {
        _metrics.MessageRejected("odd\"code\\with\nnewline");

        var text = await ScrapeAsync();

        OpsHttp.AssertWellFormed(text);
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_messages_rejected_total{code=\"odd\\\"code\\\\with\\nnewline\"}"));
    }

    [Fact]
    public async Task Scrape_ActiveSessions_ReadsTheSourceAtScrapeTime()
    {
        var sessions = 3;
        _metrics.ObserveActiveSessions(() => sessions);
        Assert.Equal(3, OpsHttp.Sample(await ScrapeAsync(), "smtp_amp_proxy_sessions_active"));

        sessions = 0;
        Assert.Equal(0, OpsHttp.Sample(await ScrapeAsync(), "smtp_amp_proxy_sessions_active"));
    }

    [Fact]
    public async Task Scrape_SameMeterNameFromAnotherFactory_IsNotListenedTo()
    {
        using var other = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var otherMetrics = new ProxyMetrics(other.GetRequiredService<IMeterFactory>(), TimeProvider.System);

        otherMetrics.MessageReceived();
        otherMetrics.MessageReceived();

        Assert.Equal(0, OpsHttp.Sample(await ScrapeAsync(), "smtp_amp_proxy_messages_received_total"));
    }
}
