using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Http;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Tests.Support;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Tests.Http;

/// <summary>When /readyz trusts what the relay saw and when it checks the upstream itself; time is virtual.</summary>
public sealed class UpstreamReadinessTests
{
    [Fact]
    public async Task Check_RecentRelaySucceeded_ReadyWithoutConnecting()
    {
        await using var proxy = await StartWithDeadUpstreamAsync();
        var (check, metrics, time) = Create(proxy);
        metrics.RecordUpstream(true, null);
        time.Advance(TimeSpan.FromSeconds(119));

        var result = await check.CheckAsync(TestContext.Current.CancellationToken);

        Assert.True(result.IsReady, result.Reason);
    }

    [Fact]
    public async Task Check_LastSuccessOlderThanTheWindow_ProbesAndFindsTheUpstreamDown()
    {
        await using var proxy = await StartWithDeadUpstreamAsync();
        var (check, metrics, time) = Create(proxy);
        metrics.RecordUpstream(true, null);
        time.Advance(TimeSpan.FromSeconds(121));

        var result = await check.CheckAsync(TestContext.Current.CancellationToken);

        Assert.False(result.IsReady);
        Assert.StartsWith("unreachable", result.Reason);
        Assert.False(metrics.LastUpstream!.Reachable);
    }

    [Fact]
    public async Task Check_RecentFailure_IsBelievedWithoutAnotherProbe()
    {
        await using var proxy = await StartWithDeadUpstreamAsync();
        var (check, metrics, time) = Create(proxy);
        metrics.RecordUpstream(false, "unreachable: connection refused");
        time.Advance(TimeSpan.FromSeconds(5));

        var result = await check.CheckAsync(TestContext.Current.CancellationToken);

        Assert.Equal("unreachable: connection refused", result.Reason);
    }

    [Fact]
    public async Task Readyz_AfterStopRequested_Answers503ShuttingDownWhileHealthzStays200()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Http:Endpoint"] = "127.0.0.1:0" });
        proxy.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        var ready = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.Status);
        Assert.Equal("not ready: host: shutting down", ready.Body.Trim());
        Assert.Equal(HttpStatusCode.OK, (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/healthz")).Status);
    }

    private static Task<ProxyTestHost> StartWithDeadUpstreamAsync() => ProxyTestHost.StartAsync(new Dictionary<string, string>
    {
        ["Proxy:Upstream:Mode"] = "Smtp",
        ["Proxy:Upstream:Host"] = "127.0.0.1",
        ["Proxy:Upstream:Port"] = MetricsEndpointTests.ClosedPort().ToString(CultureInfo.InvariantCulture),
        ["Proxy:Upstream:Tls"] = "None",
        ["Proxy:Upstream:Username"] = "",
    });

    /// <summary>A check over the running proxy's listeners and upstream, with its own metrics and clock.</summary>
    private static (UpstreamReadiness Check, ProxyMetrics Metrics, FakeTimeProvider Time) Create(ProxyTestHost proxy)
    {
        var time = new FakeTimeProvider();
        var metrics = new ProxyMetrics(proxy.Services.GetRequiredService<IMeterFactory>(), time);
        var check = new UpstreamReadiness(
            proxy.Services.GetRequiredService<ProxyConfiguration>(),
            proxy.Services.GetRequiredService<ProxyOptions>(),
            proxy.Services.GetRequiredService<IUpstream>(),
            metrics,
            time);
        return (check, metrics, time);
    }
}
