using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Normalizer;

namespace SmtpAmpProxy.Tests.Http;

/// <summary>The exposition format from the meter alone, without sockets.</summary>
public sealed class PrometheusExporterTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly ProxyMetrics _metrics;
    private readonly PrometheusExporter _exporter;

    public PrometheusExporterTests()
    {
        _metrics = new ProxyMetrics(_services.GetRequiredService<IMeterFactory>(), TimeProvider.System);
        _exporter = new PrometheusExporter(_metrics);
    }

    public void Dispose()
    {
        _exporter.Dispose();
        _services.Dispose();
    }

    [Fact]
    public void Scrape_NothingMeasured_ShowsEveryFamilyAtZero()
    {
        var text = _exporter.Scrape();

        OpsHttp.AssertWellFormed(text);
        foreach (var name in new[] { "received", "relayed", "repaired", "rejected" })
        {
            Assert.Equal(0, OpsHttp.Sample(text, $"smtp_amp_proxy_messages_{name}_total"));
        }

        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_errors_total"));
        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_sessions_active"));
        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_count"));
    }

    [Fact]
    public void Scrape_Histogram_BucketsAreCumulativeWithSumAndCount()
    {
        _metrics.RelayCompleted(accepted: true, lost: false, [], TimeSpan.FromMilliseconds(20));
        _metrics.RelayCompleted(accepted: true, lost: false, [], TimeSpan.FromSeconds(0.3));
        _metrics.RelayCompleted(accepted: true, lost: false, [], TimeSpan.FromMinutes(10));

        var text = _exporter.Scrape();

        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"0.025\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"0.25\"}"));
        Assert.Equal(2, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"0.5\"}"));
        Assert.Equal(2, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"300\"}"));
        Assert.Equal(3, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_bucket{le=\"+Inf\"}"));
        Assert.Equal(3, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_count"));
        Assert.Equal(600.32, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_sum")!.Value, precision: 6);
    }

    [Fact]
    public void RelayCompleted_RefusedUpstream_CountedAsAReplyNotAsAnError()
    {
        _metrics.UpstreamReply("content", 554);
        _metrics.RelayCompleted(accepted: false, lost: false, [new AmpAction("amp-last", "moved")], TimeSpan.FromSeconds(1));

        var text = _exporter.Scrape();

        // An upstream refusing a message is doing its job: nothing an operator is paged for.
        Assert.Null(OpsHttp.Sample(text, "smtp_amp_proxy_upstream_errors_total{kind=\"refused\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_replies_total{class=\"5xx\",stage=\"content\"}"));
        Assert.Equal(0, OpsHttp.Sample(text, "smtp_amp_proxy_messages_relayed_total"));
        Assert.Null(OpsHttp.Sample(text, "smtp_amp_proxy_messages_repaired_total{action=\"amp-last\"}"));
    }

    [Fact]
    public void RelayCompleted_Lost_CountsOnlyTheDuration()
    {
        _metrics.UpstreamFailed(ProxyMetrics.Lost);
        _metrics.RelayCompleted(accepted: false, lost: true, [], TimeSpan.FromSeconds(1));

        var text = _exporter.Scrape();

        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_upstream_errors_total{kind=\"lost\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_relay_duration_seconds_count"));

        // One transaction's lost connection says nothing about the upstream as a whole: readiness is not told.
        Assert.Null(_metrics.LastUpstream);
    }

    [Fact]
    public void Scrape_TwoRepairActions_OneSeriesEach()
    {
        _metrics.RelayCompleted(true, false, [new AmpAction("amp-duplicate", "x"), new AmpAction("amp-after-html", "y")], TimeSpan.Zero);
        _metrics.RelayCompleted(true, false, [new AmpAction("amp-after-html", "z")], TimeSpan.Zero);

        var text = _exporter.Scrape();

        Assert.Equal(2, OpsHttp.Sample(text, "smtp_amp_proxy_messages_repaired_total{action=\"amp-after-html\"}"));
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_messages_repaired_total{action=\"amp-duplicate\"}"));
        Assert.Equal(2, OpsHttp.Sample(text, "smtp_amp_proxy_messages_relayed_total"));
        Assert.Null(OpsHttp.Sample(text, "smtp_amp_proxy_messages_repaired_total"));
    }

    [Fact]
    public void Scrape_LabelValueWithQuoteBackslashAndNewline_IsEscaped()
    {
        _metrics.MessageRejected("odd\"code\\with\nnewline");

        var text = _exporter.Scrape();

        OpsHttp.AssertWellFormed(text);
        Assert.Equal(1, OpsHttp.Sample(text, "smtp_amp_proxy_messages_rejected_total{code=\"odd\\\"code\\\\with\\nnewline\"}"));
    }

    [Fact]
    public void Scrape_ActiveSessions_ReadsTheSourceAtScrapeTime()
    {
        var sessions = 3;
        _metrics.ObserveActiveSessions(() => sessions);
        Assert.Equal(3, OpsHttp.Sample(_exporter.Scrape(), "smtp_amp_proxy_sessions_active"));

        sessions = 0;
        Assert.Equal(0, OpsHttp.Sample(_exporter.Scrape(), "smtp_amp_proxy_sessions_active"));
    }

    [Fact]
    public void Scrape_SameMeterNameFromAnotherFactory_IsNotListenedTo()
    {
        using var other = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var otherMetrics = new ProxyMetrics(other.GetRequiredService<IMeterFactory>(), TimeProvider.System);

        otherMetrics.MessageReceived();

        Assert.Equal(0, OpsHttp.Sample(_exporter.Scrape(), "smtp_amp_proxy_messages_received_total"));
    }
}
