using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Http;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.EndToEnd;

/// <summary>
/// Proxy:Relay:Mode = Queue against real peers: aiosmtpd as the upstream (down, then back on the same
/// port), the proxy itself killed with SIGKILL, <c>queue flush</c> from the command line, and Python's
/// <c>email</c> reading the delivery status notification.
/// </summary>
public sealed class QueueModeTests
{
    [Fact]
    public async Task UpstreamDownSigkillRestartUpstreamBackFlush_AllFiftyArriveExactlyOnce()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("SIGKILL of the proxy process is tested on Linux");
        }

        Peers.RequireAiosmtpd();
        using var work = new TempDirectory();
        string spool = Path.Combine(work.Path, "spool");
        int upstreamPort = FreePort();
        string[] args =
        [
            "--Proxy:Relay:Mode=Queue", $"--Proxy:Queue:Directory={spool}",
            "--Proxy:Upstream:Mode=Smtp", "--Proxy:Upstream:Host=127.0.0.1", $"--Proxy:Upstream:Port={upstreamPort}",
            "--Proxy:Upstream:Tls=None", "--Proxy:Upstream:Username=", "--Proxy:Upstream:ConnectTimeout=00:00:05",
            "--Proxy:Listen:0:Endpoint=127.0.0.1:0", "--Proxy:Http:Endpoint=", "--Logging:LogLevel:Default=Information",
        ];

        var accepted = new List<string>();
        using (var first = RunningProxy.Start(args))
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(await first.ListeningAsync());
            await using (client)
            {
                Assert.StartsWith("250", await client.CommandAsync("EHLO sender.test"));
                for (int i = 0; i < 50; i++)
                {
                    Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<app@example.com>"));
                    Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<user@example.net>"));
                    Assert.StartsWith("354", await client.CommandAsync("DATA"));
                    await client.SendAsync(TestMessages.DotStuff(TestMessages.PlainText($"queued-{i}")));
                    string reply = await client.CommandAsync("\r\n.");
                    Assert.StartsWith("250 2.0.0 Ok: queued as ", reply);
                    accepted.Add(reply.Trim()["250 2.0.0 Ok: queued as ".Length..]);
                }
            }

            // Every message was tried once with the upstream down and is now deferred; then the power goes.
            await first.WaitForEventsAsync(4100, 50);
            first.Kill();
        }

        using var second = RunningProxy.Start(args);
        await second.ListeningAsync();

        // One spool, one instance: a second process on it stops at start naming the key.
        var intruder = ProxyProcess.Run(args);
        Assert.Equal(2, intruder.ExitCode);
        Assert.Contains("Proxy:Queue:Directory: cannot open the spool", intruder.StdErr, StringComparison.Ordinal);
        Assert.Contains("in use by another instance", intruder.StdErr, StringComparison.Ordinal);
        using var upstream = AiosmtpdUpstream.Start("--port", upstreamPort.ToString(CultureInfo.InvariantCulture));

        var flush = ProxyProcess.Run(["queue", "flush", $"--Proxy:Queue:Directory={spool}"]);
        Assert.True(flush.ExitCode == 0, flush.StdErr);
        Assert.Equal("50 messages due now", flush.StdOut.Trim());

        // One "removed: delivered" line per message once the upstream took it.
        await second.WaitForEventsAsync(4103, 50);
        string[] subjects = [.. upstream.Messages().Select(File.ReadAllText).Select(m => m[(m.IndexOf("Message-ID: <", StringComparison.Ordinal) + 13)..].Split('@')[0])];
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"queued-{i}").Order(StringComparer.Ordinal), subjects.Order(StringComparer.Ordinal));
        Assert.Equal(50, accepted.Distinct().Count());

        var list = ProxyProcess.Run(["queue", "list", "--json", $"--Proxy:Queue:Directory={spool}"]);
        Assert.Equal("[]", list.StdOut.Trim());
    }

    [Fact]
    public async Task OneOfTwoRecipientsRefused550_OtherDeliveredAndNotificationParsedByPythonEmail()
    {
        using var upstream = AiosmtpdUpstream.Start("--reject-rcpt-prefix", "gone");
        using var spool = new TempDirectory();
        await using var proxy = await ProxyTestHost.StartAsync(QueueSettings(upstream.Port, spool.Path));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO sender.test"));
            Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<app@example.com>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<user@example.net>"));
            Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<gone@example.net>"));
            Assert.StartsWith("354", await client.CommandAsync("DATA"));
            await client.SendAsync(TestMessages.DotStuff(TestMessages.PlainText("half-refused")));
            Assert.StartsWith("250 2.0.0 Ok: queued as", await client.CommandAsync("\r\n."));
        }

        await Eventually.UntilAsync(() => upstream.Messages().Length == 2, () => "the upstream has both messages");
        var envelopes = upstream.Messages().Select(m => JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(m, ".json")))).ToList();
        Assert.Equal(["user@example.net"], envelopes[0].RootElement.GetProperty("to").EnumerateArray().Select(e => e.GetString()));
        // aiosmtpd writes the null reverse path as "<>".
        Assert.Equal("<>", envelopes[1].RootElement.GetProperty("from").GetString());
        Assert.Equal(["app@example.com"], envelopes[1].RootElement.GetProperty("to").EnumerateArray().Select(e => e.GetString()));

        var report = Peers.Run(Peers.RequirePython(), [RepoPaths.Peer("dsn_report.py"), upstream.Messages()[1]], TimeSpan.FromSeconds(60));
        Assert.True(report.ExitCode == 0, report.StdErr);
        using var json = JsonDocument.Parse(report.StdOut);
        Assert.Equal("multipart/report", json.RootElement.GetProperty("type").GetString());
        Assert.Equal("delivery-status", json.RootElement.GetProperty("report_type").GetString());
        var recipient = Assert.Single(json.RootElement.GetProperty("recipients").EnumerateArray());
        Assert.Equal("rfc822; gone@example.net", recipient.GetProperty("final_recipient").GetString());
        Assert.Equal("failed", recipient.GetProperty("action").GetString());
        Assert.Equal("5.1.1", recipient.GetProperty("status").GetString());
        Assert.StartsWith("smtp; 550 5.1.1", recipient.GetProperty("diagnostic").GetString());
        Assert.Equal("plain", json.RootElement.GetProperty("original_subject").GetString());
    }

    [Fact]
    public async Task SpoolOverMaxBytes_452AndTheAcceptedMessageKept()
    {
        using var spool = new TempDirectory();
        await using var proxy = await ProxyTestHost.StartAsync(QueueSettings(MetricsEndpointTests.ClosedPort(), spool.Path, ("Proxy:Queue:MaxBytes", "4000")));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO sender.test"));
            Assert.StartsWith("250 2.0.0 Ok: queued as", await SendAsync(client, TestMessages.PlainText("fits")));
            Assert.StartsWith("452 4.3.1", await SendAsync(client, TestMessages.PlainText("too-much", new string('x', 3000) + "\r\n")));
        }

        var listed = ProxyProcess.Run(["queue", "list", "--json", $"--Proxy:Queue:Directory={spool.Path}"]);
        using var json = JsonDocument.Parse(listed.StdOut);
        Assert.Single(json.RootElement.EnumerateArray());
    }

    [Fact]
    public async Task MisplacedAmp_554AtOnceAndNothingSpooled()
    {
        using var spool = new TempDirectory();
        await using var proxy = await ProxyTestHost.StartAsync(QueueSettings(MetricsEndpointTests.ClosedPort(), spool.Path));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO sender.test"));
            Assert.StartsWith("554 5.6.0 amp-misplaced", await SendAsync(client, TestMessages.MisplacedAmp("misplaced")));
        }

        Assert.Empty(SmtpAmpProxy.Queue.Spool.MessageSpool.ReadAll(spool.Path));
    }

    [Fact]
    public async Task UpstreamDown_ReadyzStaysReadyAndSaysSo()
    {
        using var spool = new TempDirectory();
        await using var proxy = await ProxyTestHost.StartAsync(QueueSettings(MetricsEndpointTests.ClosedPort(), spool.Path, ("Proxy:Http:Endpoint", "127.0.0.1:0")));

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.CommandAsync("EHLO sender.test"));
            Assert.StartsWith("250 2.0.0 Ok: queued as", await SendAsync(client, TestMessages.PlainText("waiting")));
        }

        await Eventually.UntilAsync(() => proxy.Logs.WithEvent(4100).Any(), () => "a delivery attempt is logged");
        var answer = await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.StartsWith("ready: upstream: queue mode; upstream unreachable", answer.Body);
        var metrics = (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/metrics")).Body.Split('\n');
        Assert.Equal("1", Sample(metrics, "smtp_amp_proxy_queue_messages"));
        Assert.Equal("1", Sample(metrics, "smtp_amp_proxy_queue_deferrals_total"));
        Assert.NotNull(Sample(metrics, "smtp_amp_proxy_queue_bytes"));
        Assert.NotNull(Sample(metrics, "smtp_amp_proxy_queue_oldest_age_seconds"));
    }

    [Fact]
    public void Validate_QueueOptionsOutOfRange_NameTheKeys()
    {
        var configuration = ProxyConfiguration.Load(
            ["--Proxy:Relay:Mode=Queue", "--Proxy:Upstream:Mode=Directory", "--Proxy:Queue:Workers=0",
             "--Proxy:Queue:MaximalBackoff=00:01:00", "--Proxy:Queue:BounceTo=<postmaster>", "--Proxy:Queue:MaxBytes=0"],
            new Dictionary<string, string?>());

        var errors = ProxyOptionsValidator.Validate(configuration.Options, configuration.ContentRoot);

        Assert.Contains(errors, e => e.StartsWith("Proxy:Relay:Mode:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Proxy:Queue:Workers:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Proxy:Queue:MaximalBackoff:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Proxy:Queue:BounceTo:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Proxy:Queue:MaxBytes:", StringComparison.Ordinal));
    }

    /// <summary>The value of a metric's first sample on a Prometheus page, labels or not; null when absent.</summary>
    private static string? Sample(string[] page, string name)
    {
        var line = page.FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal));
        var value = line?[(line.Contains('}', StringComparison.Ordinal) ? line.LastIndexOf('}') + 1 : name.Length)..];
        return value?.Trim().Split(' ')[0];
    }

    private static Dictionary<string, string> QueueSettings(int upstreamPort, string spool, params (string Key, string Value)[] extra) =>
        ProxyTestHost.SmtpUpstreamSettings(upstreamPort,
            [("Proxy:Relay:Mode", "Queue"), ("Proxy:Queue:Directory", spool), ("Proxy:Upstream:ConnectTimeout", "00:00:05"), .. extra]);

    private static async Task<string> SendAsync(RawSmtpClient client, byte[] message)
    {
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<app@example.com>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<user@example.net>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        await client.SendAsync(TestMessages.DotStuff(message));
        return await client.CommandAsync("\r\n.");
    }


    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>The proxy as a process whose JSON log lines are read as they come (so the pipe never fills).</summary>
    private sealed class RunningProxy : IDisposable
    {
        private readonly ProxyLogLines _logs;

        private RunningProxy(Process process) => _logs = ProxyLogLines.Follow(process);

        public static RunningProxy Start(string[] args) => new(ProxyProcess.Start(args));

        public Task<IPEndPoint> ListeningAsync() => _logs.ListeningAsync();

        public Task WaitForEventsAsync(int eventId, int count) => _logs.EventsAsync(eventId, count);

        /// <summary>SIGKILL: nothing of the process runs after it.</summary>
        public void Kill()
        {
            _logs.Process.Kill();
            _logs.Process.WaitForExit(10_000);
        }

        public void Dispose()
        {
            Peers.Stop(_logs.Process);
            _logs.Process.Dispose();
        }
    }
}
