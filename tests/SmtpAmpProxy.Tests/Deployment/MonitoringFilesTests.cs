using System.Text.Json;
using System.Text.RegularExpressions;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Support;
using SmtpAmpProxy.Tests.Webhook;

namespace SmtpAmpProxy.Tests.Deployment;

/// <summary>deploy/prometheus and deploy/grafana, checked by Prometheus' own promtool and against what the proxy exports.</summary>
public sealed partial class MonitoringFilesTests
{
    private static readonly string Prometheus = Path.Combine(RepoPaths.Root, "deploy", "prometheus");
    private static readonly string Dashboard = Path.Combine(RepoPaths.Root, "deploy", "grafana", "smtp-amp-proxy.json");

    // Exported by parts this test's proxy does not run: the SMTP upstream's connection pool (the test
    // uses the file-drop upstream) and the spool of Queue mode.
    private static readonly string[] ExportedElsewhere =
    [
        "smtp_amp_proxy_upstream_pool_connections", "smtp_amp_proxy_upstream_pool_waiting",
        "smtp_amp_proxy_queue_messages", "smtp_amp_proxy_queue_oldest_age_seconds",
    ];

    [Fact]
    public void PromtoolCheckRules_AcceptsTheRules()
    {
        var promtool = Peers.RequireTool("promtool", "prometheus");

        var result = Peers.Run(promtool, ["check", "rules", Path.Combine(Prometheus, "smtp-amp-proxy.rules.yml")], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.Contains("SUCCESS", result.StdOut);
    }

    [Fact]
    public void PromtoolTestRules_AlertsAndRecordsBehaveAsTheTestFileSays()
    {
        var promtool = Peers.RequireTool("promtool", "prometheus");

        var result = Peers.Run(promtool, ["test", "rules", Path.Combine(Prometheus, "smtp-amp-proxy.rules.test.yml")], TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.Contains("SUCCESS", result.StdOut);
    }

    [Fact]
    public async Task DashboardAndRules_QueryOnlyMetricsTheProxyExports()
    {
        using var sender = new EventWebhookSender();
        var (proxy, _) = await sender.StartProxyAsync();
        await using var __ = proxy;

        // A histogram is exported from its first measurement on: relay one message.
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(TestMessages.PlainText("one"))));
        }

        var exposition = (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/metrics")).Body;
        var exported = ExportedName().Matches(exposition).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

        using var dashboard = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var queries = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .Append(File.ReadAllText(Path.Combine(Prometheus, "smtp-amp-proxy.rules.yml")))
            .ToList();
        var used = queries.SelectMany(q => MetricName().Matches(q).Select(m => m.Value))
            .Select(n => Regex.Replace(n, "_(bucket|sum|count)$", ""))
            .ToHashSet(StringComparer.Ordinal);

        Assert.Contains("smtp_amp_proxy_engagement_events_total", used);
        Assert.Empty(used.Except(exported).Except(ExportedElsewhere).Order(StringComparer.Ordinal));
    }

    [GeneratedRegex(@"^# TYPE (smtp_amp_proxy_[a-z0-9_]+) ", RegexOptions.Multiline)]
    private static partial Regex ExportedName();

    // Metric names, not recording rules (those carry colons).
    [GeneratedRegex(@"(?<![:a-z_])smtp_amp_proxy_[a-z0-9_]+(?![:a-z0-9_])")]
    private static partial Regex MetricName();
}
