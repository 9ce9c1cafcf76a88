using System.Diagnostics;
using OpenTelemetry.Trace;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Tests.Faults;
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
            Assert.Equal([ProxyTracing.UpstreamEnvelope, ProxyTracing.UpstreamEnvelope, ProxyTracing.Normalize, ProxyTracing.UpstreamData],
                children.Select(a => a.OperationName));
            Assert.All(children, child => Assert.Equal(transaction.TraceId, child.TraceId));
            children = children[2..];
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
    public async Task RejectedMessage_EndsTransactionSpanWithRejectCodeAndNoUpstreamDataChild()
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
            Assert.Equal([ProxyTracing.UpstreamEnvelope, ProxyTracing.UpstreamEnvelope, ProxyTracing.Normalize],
                trace.Where(a => a.ParentSpanId == transaction.SpanId).OrderBy(a => a.StartTimeUtc).Select(a => a.OperationName));
        }
    }

    [Fact]
    public async Task EnvelopeCommands_EachExportsUpstreamEnvelopeChildWithStageAndReplyClass()
    {
        var (proxy, exported) = await StartTracedAsync();
        await using (proxy)
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
            await using (client)
            {
                var reply = await client.SendMessageAsync("sender@example.com", ["one@example.net", "two@example.net"],
                    TestMessages.DotStuff(TestMessages.PlainText("traced-envelope")));
                Assert.StartsWith("250", reply);
            }

            var traceId = Assert.Single(proxy.Logs.WithEvent(MessageOutcome)).Scope("TraceId");
            var trace = Snapshot(exported).Where(a => a.TraceId.ToHexString() == traceId).ToList();
            var transaction = Assert.Single(trace, a => a.OperationName == ProxyTracing.Transaction);
            var envelope = trace.Where(a => a.OperationName == ProxyTracing.UpstreamEnvelope).OrderBy(a => a.StartTimeUtc).ToList();
            Assert.Equal(["mail", "rcpt", "rcpt"], envelope.Select(a => Tag(a, ProxyTracing.UpstreamStageTag)));
            Assert.All(envelope, span =>
            {
                Assert.Equal(transaction.SpanId, span.ParentSpanId);
                Assert.Equal(ActivityKind.Client, span.Kind);
                Assert.Equal("2xx", Tag(span, ProxyTracing.UpstreamReplyClassTag));
                Assert.Equal("250", Tag(span, ProxyTracing.UpstreamReplyCodeTag));
                Assert.Equal(ActivityStatusCode.Unset, span.Status);
            });
        }
    }

    [Fact]
    public async Task RecipientRefusedUpstream_EnvelopeChildCarries5xxClassAndTransactionGoesOn()
    {
        await using var upstream = ScriptedUpstream.Start();
        var (proxy, exported) = await StartTracedAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port));
        await using (proxy)
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
            await using (client)
            {
                Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
                Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
                Assert.StartsWith("550", await client.CommandAsync("RCPT TO:<nobody@example.net>"));
                Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
                Assert.StartsWith("250", await client.SendDataAsync(TestMessages.DotStuff(TestMessages.PlainText("traced-refused"))));
            }

            var traceId = Assert.Single(proxy.Logs.WithEvent(MessageOutcome)).Scope("TraceId");
            var envelope = Snapshot(exported)
                .Where(a => a.TraceId.ToHexString() == traceId && a.OperationName == ProxyTracing.UpstreamEnvelope)
                .OrderBy(a => a.StartTimeUtc)
                .Select(a => (Tag(a, ProxyTracing.UpstreamStageTag), Tag(a, ProxyTracing.UpstreamReplyCodeTag), Tag(a, ProxyTracing.UpstreamReplyClassTag)));

            // MAIL is answered by the proxy once it holds a connection; MAIL goes upstream with the first RCPT.
            Assert.Equal([("mail", "250", "2xx"), ("rcpt", "550", "5xx"), ("rcpt", "250", "2xx")], envelope);
        }
    }

    [Fact]
    public async Task UpstreamUnreachableAtMail_EnvelopeChildIsAnErrorNamingTheFault()
    {
        await using var upstream = ScriptedUpstream.Reserve();
        var (proxy, exported) = await StartTracedAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port));
        await using (proxy)
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
            await using (client)
            {
                Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
                Assert.StartsWith("451", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
            }

            var line = Assert.Single(proxy.Logs.WithEvent(MessageOutcome));
            Assert.Equal("upstream-failed", line.Field("Outcome"));
            var span = Assert.Single(Snapshot(exported),
                a => a.TraceId.ToHexString() == line.Scope("TraceId") && a.OperationName == ProxyTracing.UpstreamEnvelope);
            Assert.Equal("mail", Tag(span, ProxyTracing.UpstreamStageTag));
            Assert.Equal("4xx", Tag(span, ProxyTracing.UpstreamReplyClassTag));
            Assert.Equal(ActivityStatusCode.Error, span.Status);
            Assert.False(string.IsNullOrEmpty(Tag(span, ProxyTracing.UpstreamFaultTag)));
        }
    }

    private static async Task<(ProxyTestHost Proxy, ExportedActivities Exported)> StartTracedAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        var exported = new ExportedActivities();
        var proxy = await ProxyTestHost.StartAsync(settings, configureServices: services =>
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
