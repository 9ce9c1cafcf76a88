using System.Diagnostics;
using OpenTelemetry.Trace;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Tracing;

/// <summary>One relayed message as the tracer provider exports it, and its outcome line pointing at the same trace.</summary>
public sealed class TransactionTracingTests
{
    private const int MessageOutcome = 3100;

    [Fact]
    public async Task RelayedMessage_ExportsTransactionSpanWithNormalizeAndUpstreamChildren()
    {
        var (proxy, exported) = await StartTracedAsync();
        await using (proxy)
        {
            var message = TestMessages.Alternative("traced", TestMessages.Plain, TestMessages.Html, TestMessages.Amp);
            var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
            await using (client)
            {
                Assert.StartsWith("250", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message)));
                Assert.StartsWith("221", await client.CommandAsync("QUIT"));
            }

            var line = Assert.Single(proxy.Logs.WithEvent(MessageOutcome));
            var queueId = line.Field("QueueId");
            Assert.False(string.IsNullOrEmpty(queueId));

            // The source is process-wide: other hosts' spans may be exported too; this message's is the one with its queue id.
            var transaction = Assert.Single(Snapshot(exported), a => a.OperationName == ProxyTracing.Transaction && Tag(a, ProxyTracing.UpstreamQueueIdTag) == queueId);
            Assert.Equal(ActivityKind.Server, transaction.Kind);
            Assert.Equal(default, transaction.ParentSpanId);
            Assert.Equal(line.Field("SessionId"), Tag(transaction, ProxyTracing.SessionIdTag));
            Assert.Equal("127.0.0.1", Tag(transaction, ProxyTracing.ClientAddressTag));
            Assert.Equal("repaired", Tag(transaction, ProxyTracing.VerdictTag));
            Assert.Equal("250", Tag(transaction, ProxyTracing.UpstreamReplyCodeTag));

            var children = Snapshot(exported).Where(a => a.ParentSpanId == transaction.SpanId).OrderBy(a => a.StartTimeUtc).ToList();
            Assert.Equal([ProxyTracing.Normalize, ProxyTracing.UpstreamData], children.Select(a => a.OperationName));
            Assert.All(children, child => Assert.Equal(transaction.TraceId, child.TraceId));
            var upstream = children[1];
            Assert.Equal(ActivityKind.Client, upstream.Kind);
            Assert.Equal(queueId, Tag(upstream, ProxyTracing.UpstreamQueueIdTag));
            Assert.True(children[0].StartTimeUtc + children[0].Duration <= upstream.StartTimeUtc, "normalization ends before the upstream exchange starts");

            // The outcome line was written inside the transaction: its trace id finds the span.
            Assert.Equal(transaction.TraceId.ToHexString(), line.Scope("TraceId"));
            Assert.Equal(transaction.SpanId.ToHexString(), line.Scope("SpanId"));
        }
    }

    [Fact]
    public async Task RejectedMessage_EndsTransactionSpanWithRejectCodeAndNoUpstreamChild()
    {
        var (proxy, exported) = await StartTracedAsync();
        await using (proxy)
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
            await using (client)
            {
                var reply = await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.MisplacedAmp("traced-reject")));
                Assert.StartsWith("554", reply);
            }

            var line = Assert.Single(proxy.Logs.WithEvent(MessageOutcome));
            var traceId = line.Scope("TraceId");
            Assert.False(string.IsNullOrEmpty(traceId));
            var trace = Snapshot(exported).Where(a => a.TraceId.ToHexString() == traceId).ToList();
            var transaction = Assert.Single(trace, a => a.OperationName == ProxyTracing.Transaction);
            Assert.Equal("rejected:amp-misplaced", Tag(transaction, ProxyTracing.VerdictTag));
            Assert.Equal("554", Tag(transaction, ProxyTracing.UpstreamReplyCodeTag));
            Assert.Equal(line.Field("SessionId"), Tag(transaction, ProxyTracing.SessionIdTag));
            Assert.Equal([ProxyTracing.Normalize], trace.Where(a => a.ParentSpanId == transaction.SpanId).Select(a => a.OperationName));
        }
    }

    private static async Task<(ProxyTestHost Proxy, ExportedActivities Exported)> StartTracedAsync()
    {
        var exported = new ExportedActivities();
        var proxy = await ProxyTestHost.StartAsync(configureServices: services =>
            services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(exported)));
        return (proxy, exported);
    }

    private static List<Activity> Snapshot(ExportedActivities exported) => exported.Snapshot();

    private static string? Tag(Activity activity, string name) =>
        activity.TagObjects.FirstOrDefault(tag => tag.Key == name).Value is { } value
            ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)
            : null;

    /// <summary>The exporter appends on whichever thread stops an activity, while the test reads.</summary>
    private sealed class ExportedActivities : System.Collections.ObjectModel.Collection<Activity>
    {
        public List<Activity> Snapshot()
        {
            lock (Items)
            {
                return [.. Items];
            }
        }

        protected override void InsertItem(int index, Activity item)
        {
            lock (Items)
            {
                base.InsertItem(index, item);
            }
        }
    }
}
