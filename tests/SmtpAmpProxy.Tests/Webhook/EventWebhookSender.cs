using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Webhook;

/// <summary>
/// Plays SendGrid's side of the Signed Event Webhook with a P-256 key pair made for the test:
/// signs timestamp + body, and shows the public key as SendGrid's settings page does (base64 DER).
/// </summary>
internal sealed class EventWebhookSender : IDisposable
{
    public const string SignatureHeader = "X-Twilio-Email-Event-Webhook-Signature";
    public const string TimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp";

    public ECDsa Key { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public string PublicKey => Convert.ToBase64String(Key.ExportSubjectPublicKeyInfo());

    public string Sign(string timestamp, byte[] body) =>
        Convert.ToBase64String(Key.SignData([.. Encoding.UTF8.GetBytes(timestamp), .. body], HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));

    /// <summary>The other valid signature of the same message: (r, n − s) for (r, s) (ECDSA malleability).</summary>
    public static string Malleate(string signature)
    {
        var der = Convert.FromBase64String(signature);
        var sequence = new System.Formats.Asn1.AsnReader(der, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        var r = sequence.ReadInteger();
        var s = sequence.ReadInteger();
        var order = System.Numerics.BigInteger.Parse("0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteInteger(r);
            writer.WriteInteger(order - s);
        }

        return Convert.ToBase64String(writer.Encode());
    }

    public static string Timestamp(DateTimeOffset at) => at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    public void Dispose() => Key.Dispose();

    /// <summary>A proxy with the webhook on 127.0.0.1:0 trusting this key, the ops port on, and a fake clock at now.</summary>
    public async Task<(ProxyTestHost Proxy, SignalingTimeProvider Time)> StartProxyAsync(params (string Key, string Value)[] extra)
    {
        var time = new SignalingTimeProvider(DateTimeOffset.UtcNow);
        var settings = new Dictionary<string, string>
        {
            ["Proxy:Webhook:Endpoint"] = "127.0.0.1:0",
            ["Proxy:Webhook:PublicKey"] = PublicKey,
            ["Proxy:Http:Endpoint"] = "127.0.0.1:0",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        var proxy = await ProxyTestHost.StartAsync(settings, services =>
            Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<TimeProvider>(services, time));
        return (proxy, time);
    }

    public sealed record Answer(HttpStatusCode Status, string Body);

    /// <summary>POSTs <paramref name="body"/> with the given headers (null leaves one out).</summary>
    public static async Task<Answer> PostAsync(IPEndPoint endPoint, byte[] body, string? timestamp, string? signature, string path = "/webhooks/sendgrid")
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://{endPoint}{path}") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (timestamp is not null)
        {
            request.Headers.TryAddWithoutValidation(TimestampHeader, timestamp);
        }

        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation(SignatureHeader, signature);
        }

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>Signed now (by <paramref name="time"/>) and posted.</summary>
    public async Task<Answer> PostSignedAsync(IPEndPoint endPoint, TimeProvider time, string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var timestamp = Timestamp(time.GetUtcNow());
        return await PostAsync(endPoint, body, timestamp, Sign(timestamp, body));
    }

    public static async Task<string> ScrapeAsync(ProxyTestHost proxy) => (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/metrics")).Body;

    public static double Events(string exposition, string @event, string content, string outcome) =>
        OpsHttp.Sample(exposition, $"smtp_amp_proxy_engagement_events_total{{content=\"{content}\",event=\"{@event}\",outcome=\"{outcome}\"}}") ?? 0;

    public static double Requests(string exposition, string result) =>
        OpsHttp.Sample(exposition, $"smtp_amp_proxy_webhook_requests_total{{result=\"{result}\"}}") ?? 0;
}

/// <summary>A fake clock that says when a timer of a given length is created, so a test advances time only once something waits on it.</summary>
internal sealed class SignalingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly Lock _lock = new();
    private readonly List<(TimeSpan Due, TaskCompletionSource Created)> _watches = [];

    public Task TimerCreated(TimeSpan due)
    {
        var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _watches.Add((due, created));
        }

        return created.Task;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        lock (_lock)
        {
            foreach (var watch in _watches.Where(w => w.Due == dueTime).ToList())
            {
                watch.Created.TrySetResult();
                _watches.Remove(watch);
            }
        }

        return timer;
    }
}
