using System.Net;
using System.Net.Sockets;
using System.Text;
using SmtpAmpProxy.Tests.Support;
using SmtpAmpProxy.Webhook;

namespace SmtpAmpProxy.Tests.Webhook;

/// <summary>The webhook listener in the whole appliance, over real sockets on 127.0.0.1, with a fake clock.</summary>
public sealed class WebhookEndpointTests
{
    private const string OpenAmpRepaired = """{"event":"open","sg_content_type":"amp","smtp_amp_proxy":"repaired","sg_event_id":"e1"}""";
    private const string OpenHtmlPassed = """{"event":"open","sg_content_type":"html","smtp_amp_proxy":"passed","sg_event_id":"e2"}""";
    private const string ClickAmpPassed = """{"event":"click","url_offset":{"index":0,"type":"amp"},"smtp_amp_proxy":"passed","sg_event_id":"e3"}""";
    private const string Delivered = """{"event":"delivered","sg_event_id":"e4"}""";

    [Fact]
    public async Task SignedBatch_Answers204AndCountsEachEventByContentAndOutcome()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;

        var first = await sender.PostSignedAsync(proxy.WebhookEndPoint, time, $"[{OpenAmpRepaired},{OpenAmpRepaired},{OpenHtmlPassed},{Delivered}]");
        var second = await sender.PostSignedAsync(proxy.WebhookEndPoint, time, $"[{ClickAmpPassed},{OpenAmpRepaired}]");

        Assert.Equal(HttpStatusCode.NoContent, first.Status);
        Assert.Equal(HttpStatusCode.NoContent, second.Status);
        var metrics = await EventWebhookSender.ScrapeAsync(proxy);
        Assert.Equal(3, EventWebhookSender.Events(metrics, "open", "amp", "repaired"));
        Assert.Equal(1, EventWebhookSender.Events(metrics, "open", "html", "passed"));
        Assert.Equal(1, EventWebhookSender.Events(metrics, "click", "amp", "passed"));
        Assert.Equal(1, EventWebhookSender.Events(metrics, "delivered", "none", "untagged"));
        Assert.Equal(2, EventWebhookSender.Requests(metrics, "accepted"));
    }

    [Theory]
    [InlineData("unsigned", "unsigned")]
    [InlineData("no-timestamp", "unsigned")]
    [InlineData("tampered-body", "bad-signature")]
    [InlineData("tampered-timestamp", "bad-signature")]
    [InlineData("other-key", "bad-signature")]
    [InlineData("timestamp-not-a-number", "bad-signature")]
    [InlineData("stale", "stale")]
    [InlineData("future", "stale")]
    public async Task RefusedRequest_Answers403CountsTheReasonAndCountsNoEvent(string kind, string result)
    {
        using var sender = new EventWebhookSender();
        using var stranger = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;
        var body = Encoding.UTF8.GetBytes($"[{OpenAmpRepaired}]");
        var now = EventWebhookSender.Timestamp(time.GetUtcNow());
        var signature = sender.Sign(now, body);
        var sixMinutes = TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1);

        var answer = kind switch
        {
            "unsigned" => await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, now, null),
            "no-timestamp" => await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, null, signature),
            "tampered-body" => await EventWebhookSender.PostAsync(proxy.WebhookEndPoint,
                Encoding.UTF8.GetBytes($"[{OpenAmpRepaired},{OpenAmpRepaired}]"), now, signature),
            "tampered-timestamp" => await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body,
                EventWebhookSender.Timestamp(time.GetUtcNow().AddSeconds(1)), signature),
            "other-key" => await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, now, stranger.Sign(now, body)),
            "timestamp-not-a-number" => await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, "12x", sender.Sign("12x", body)),
            "stale" => await PostSignedAtAsync(sender, proxy, body, time.GetUtcNow() - sixMinutes),
            _ => await PostSignedAtAsync(sender, proxy, body, time.GetUtcNow() + sixMinutes),
        };

        Assert.Equal(HttpStatusCode.Forbidden, answer.Status);
        var metrics = await EventWebhookSender.ScrapeAsync(proxy);
        Assert.Equal(1, EventWebhookSender.Requests(metrics, result));
        Assert.Equal(0, EventWebhookSender.Events(metrics, "open", "amp", "repaired"));
        Assert.Contains(proxy.Logs.WithEvent(3301), l => l.Field("Result") == result);
    }

    [Fact]
    public async Task ReplayedBatch_IsAcknowledgedButCountedOnce_AlsoWithTheMalleatedSignature()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;
        var body = Encoding.UTF8.GetBytes($"[{OpenAmpRepaired}]");
        var timestamp = EventWebhookSender.Timestamp(time.GetUtcNow());
        var signature = sender.Sign(timestamp, body);

        var first = await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, timestamp, signature);
        var replay = await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, timestamp, signature);
        var malleated = await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, timestamp, EventWebhookSender.Malleate(signature));
        var resigned = await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, timestamp, sender.Sign(timestamp, body));

        Assert.All([first, replay, malleated, resigned], a => Assert.Equal(HttpStatusCode.NoContent, a.Status));
        var metrics = await EventWebhookSender.ScrapeAsync(proxy);
        Assert.Equal(1, EventWebhookSender.Events(metrics, "open", "amp", "repaired"));
        Assert.Equal(1, EventWebhookSender.Requests(metrics, "accepted"));
        Assert.Equal(3, EventWebhookSender.Requests(metrics, "duplicate"));
    }

    [Fact]
    public async Task SameEventsSignedAtAnotherTime_AreANewBatch()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;

        await sender.PostSignedAsync(proxy.WebhookEndPoint, time, $"[{OpenAmpRepaired}]");
        time.Advance(TimeSpan.FromSeconds(1));
        await sender.PostSignedAsync(proxy.WebhookEndPoint, time, $"[{OpenAmpRepaired}]");

        Assert.Equal(2, EventWebhookSender.Events(await EventWebhookSender.ScrapeAsync(proxy), "open", "amp", "repaired"));
    }

    [Fact]
    public async Task SignedLongAgo_IsAcceptedOnlyWhileWithinMaxSkewOnTheInjectedClock()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync(("Proxy:Webhook:MaxSkew", "00:01:00"));
        await using var _ = proxy;
        var body = Encoding.UTF8.GetBytes($"[{OpenAmpRepaired}]");
        var signedAt = time.GetUtcNow();

        time.Advance(TimeSpan.FromSeconds(60));
        var atLimit = await PostSignedAtAsync(sender, proxy, body, signedAt);
        time.Advance(TimeSpan.FromSeconds(1));
        var past = await PostSignedAtAsync(sender, proxy, body, signedAt);

        Assert.Equal(HttpStatusCode.NoContent, atLimit.Status);
        Assert.Equal(HttpStatusCode.Forbidden, past.Status);
    }

    [Fact]
    public async Task SignedMalformedJson_Answers400AndCountsNothing()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;

        var answer = await sender.PostSignedAsync(proxy.WebhookEndPoint, time, $"[{OpenAmpRepaired},{{\"event\":");

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        var metrics = await EventWebhookSender.ScrapeAsync(proxy);
        Assert.Equal(1, EventWebhookSender.Requests(metrics, "malformed"));
        Assert.Equal(0, EventWebhookSender.Events(metrics, "open", "amp", "repaired"));
    }

    [Fact]
    public async Task SignedDeeplyNestedJson_Answers400()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;

        var answer = await sender.PostSignedAsync(proxy.WebhookEndPoint, time, new string('[', 500_000) + new string(']', 500_000));

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal(1, EventWebhookSender.Requests(await EventWebhookSender.ScrapeAsync(proxy), "malformed"));
    }

    [Fact]
    public async Task SignedHugeArrayJustUnderTheLimit_IsCountedWhole()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;
        var events = (1024 * 1024 - 2) / 3;
        var json = "[" + string.Join(",", Enumerable.Repeat("{}", events)) + "]";
        Assert.True(json.Length <= 1024 * 1024);

        var answer = await sender.PostSignedAsync(proxy.WebhookEndPoint, time, json);

        Assert.Equal(HttpStatusCode.NoContent, answer.Status);
        Assert.Equal(events, EventWebhookSender.Events(await EventWebhookSender.ScrapeAsync(proxy), "unknown", "none", "untagged"));
    }

    [Fact]
    public async Task BodyOverTheLimit_Answers413WithAndWithoutContentLength()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync(("Proxy:Webhook:MaxBodyBytes", "1000"));
        await using var _ = proxy;
        var atLimit = "[" + string.Join(",", Enumerable.Repeat("{}", 333)) + "]";
        Assert.Equal(1000, atLimit.Length);

        var fits = await sender.PostSignedAsync(proxy.WebhookEndPoint, time, atLimit);
        var declared = await sender.PostSignedAsync(proxy.WebhookEndPoint, time, atLimit[..^1] + ",{}]");
        var chunked = await PostChunkedAsync(proxy.WebhookEndPoint, time, sender, Encoding.ASCII.GetBytes(atLimit[..^1] + ",{}]"));

        Assert.Equal(HttpStatusCode.NoContent, fits.Status);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.Status);
        Assert.StartsWith("HTTP/1.1 413", chunked);
        Assert.Equal(2, EventWebhookSender.Requests(await EventWebhookSender.ScrapeAsync(proxy), "too-large"));
    }

    [Fact]
    public async Task SlowBody_Answers408OnceBodyTimeoutPassesOnTheInjectedClock()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;
        var body = Encoding.ASCII.GetBytes($"[{OpenAmpRepaired}]");
        var timestamp = EventWebhookSender.Timestamp(time.GetUtcNow());
        var timerCreated = time.TimerCreated(TimeSpan.FromSeconds(30));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(proxy.WebhookEndPoint, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();

        // Headers and half the body; the rest never comes.
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /webhooks/sendgrid HTTP/1.1\r\nHost: x\r\nContent-Length: {body.Length}\r\n" +
            $"{EventWebhookSender.TimestampHeader}: {timestamp}\r\n{EventWebhookSender.SignatureHeader}: {sender.Sign(timestamp, body)}\r\n\r\n"),
            TestContext.Current.CancellationToken);
        await stream.WriteAsync(body.AsMemory(0, body.Length / 2), TestContext.Current.CancellationToken);
        await timerCreated.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromSeconds(30));

        var reply = await ReadResponseAsync(stream);
        Assert.StartsWith("HTTP/1.1 408", reply);
        Assert.Equal(1, EventWebhookSender.Requests(await EventWebhookSender.ScrapeAsync(proxy), "timeout"));
    }

    [Fact]
    public async Task HeadersOverTheLimit_Answers431AndCountNothing()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;
        var body = Encoding.UTF8.GetBytes($"[{OpenAmpRepaired}]");
        var timestamp = EventWebhookSender.Timestamp(time.GetUtcNow());
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://{proxy.WebhookEndPoint}/webhooks/sendgrid") { Content = new ByteArrayContent(body) };
        request.Headers.TryAddWithoutValidation(EventWebhookSender.TimestampHeader, timestamp);
        request.Headers.TryAddWithoutValidation(EventWebhookSender.SignatureHeader, sender.Sign(timestamp, body));
        request.Headers.TryAddWithoutValidation("X-Padding", new string('a', WebhookListener.MaxHeaderBytes));

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        Assert.Equal(0, EventWebhookSender.Events(await EventWebhookSender.ScrapeAsync(proxy), "open", "amp", "repaired"));
    }

    [Fact]
    public async Task ConnectionsOverTheLimit_AreClosedUnanswered()
    {
        using var sender = new EventWebhookSender();
        var (proxy, _) = await sender.StartProxyAsync();
        await using var __ = proxy;
        var open = new List<TcpClient>();
        try
        {
            // Each connection has had an answer, so the server has certainly counted it; keep-alive holds it open.
            for (var i = 0; i < WebhookListener.MaxConnections; i++)
            {
                var tcp = new TcpClient();
                open.Add(tcp);
                await tcp.ConnectAsync(proxy.WebhookEndPoint, TestContext.Current.CancellationToken);
                await tcp.GetStream().WriteAsync("GET /webhooks/sendgrid HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), TestContext.Current.CancellationToken);
                Assert.StartsWith("HTTP/1.1 405", await ReadResponseAsync(tcp.GetStream()));
            }

            using var extra = new TcpClient();
            await extra.ConnectAsync(proxy.WebhookEndPoint, TestContext.Current.CancellationToken);
            await extra.GetStream().WriteAsync("GET /webhooks/sendgrid HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), TestContext.Current.CancellationToken);

            Assert.Equal("", await ReadResponseAsync(extra.GetStream()));
        }
        finally
        {
            open.ForEach(t => t.Dispose());
        }
    }

    [Fact]
    public async Task OtherPathsAndMethods_AreNotServed()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;
        var body = Encoding.UTF8.GetBytes("[]");
        var timestamp = EventWebhookSender.Timestamp(time.GetUtcNow());

        var metricsHere = await EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, timestamp, sender.Sign(timestamp, body), "/metrics");
        using var client = new HttpClient();
        var get = await client.GetAsync($"http://{proxy.WebhookEndPoint}/webhooks/sendgrid", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, metricsHere.Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);

        // The operations routes answer on the operations port only, never on the one facing SendGrid.
        foreach (var path in new[] { "/metrics", "/healthz", "/readyz" })
        {
            var onWebhookPort = await client.GetAsync($"http://{proxy.WebhookEndPoint}{path}", TestContext.Current.CancellationToken);
            var onOpsPort = await client.GetAsync($"http://{proxy.HttpEndPoint}{path}", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.NotFound, onWebhookPort.StatusCode);
            Assert.NotEqual(HttpStatusCode.NotFound, onOpsPort.StatusCode);
        }
    }

    [Fact]
    public async Task DefaultConfiguration_HasNoWebhookListener()
    {
        await using var proxy = await ProxyTestHost.StartAsync();

        Assert.Throws<InvalidOperationException>(() => proxy.WebhookEndPoint);
    }

    [Fact]
    public async Task ConcurrentSignedBatches_AreAllCounted()
    {
        using var sender = new EventWebhookSender();
        var (proxy, time) = await sender.StartProxyAsync();
        await using var _ = proxy;

        // Distinct batches: the same batch twice would count once.
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            sender.PostSignedAsync(proxy.WebhookEndPoint, time, $"[{OpenAmpRepaired},{OpenHtmlPassed},{{\"sg_event_id\":\"batch{i}\"}}]")));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.NoContent, a.Status));
        var metrics = await EventWebhookSender.ScrapeAsync(proxy);
        Assert.Equal(40, EventWebhookSender.Events(metrics, "open", "amp", "repaired"));
        Assert.Equal(40, EventWebhookSender.Events(metrics, "open", "html", "passed"));
    }

    private static Task<EventWebhookSender.Answer> PostSignedAtAsync(EventWebhookSender sender, ProxyTestHost proxy, byte[] body, DateTimeOffset at)
    {
        var timestamp = EventWebhookSender.Timestamp(at);
        return EventWebhookSender.PostAsync(proxy.WebhookEndPoint, body, timestamp, sender.Sign(timestamp, body));
    }

    private static async Task<string> PostChunkedAsync(IPEndPoint endPoint, TimeProvider time, EventWebhookSender sender, byte[] body)
    {
        var timestamp = EventWebhookSender.Timestamp(time.GetUtcNow());
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endPoint, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        var request = new StringBuilder()
            .Append("POST /webhooks/sendgrid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n")
            .Append($"{EventWebhookSender.TimestampHeader}: {timestamp}\r\n{EventWebhookSender.SignatureHeader}: {sender.Sign(timestamp, body)}\r\n\r\n");
        foreach (var chunk in body.Chunk(100))
        {
            request.Append($"{chunk.Length:x}\r\n").Append(Encoding.ASCII.GetString(chunk)).Append("\r\n");
        }

        request.Append("0\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), TestContext.Current.CancellationToken);
        return await ReadResponseAsync(stream);
    }

    /// <summary>The status line and headers of one response.</summary>
    private static async Task<string> ReadResponseAsync(NetworkStream stream)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (!text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, timeout.Token);
            }
            catch (IOException)
            {
                // Closed with a reset rather than a FIN: closed all the same.
                read = 0;
            }

            if (read == 0)
            {
                break;
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString();
    }
}
