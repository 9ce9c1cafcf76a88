using System.Globalization;
using System.Text.Json;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Interop;

/// <summary>
/// What Queue mode says on the wire, as senders we did not write hear it: Python smtplib's DATA reply with
/// the queue id, and the spool's 452 4.3.1 past <c>Proxy:Queue:MaxBytes</c> raised as smtplib's SMTPDataError;
/// swaks's transcript of the same. The upstream is down: accepting is the point of the queue.
/// </summary>
public sealed class QueueModeInteropTests
{
    private const string SmtplibTwoMessages = """
        import smtplib, sys
        port = int(sys.argv[1])
        def message(subject, body):
            return (f"From: app@example.com\r\nTo: user@example.net\r\nSubject: {subject}\r\n"
                    f"Message-ID: <{subject}@example.com>\r\n\r\n{body}\r\n").encode()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("python.test")
            for subject, body in (("fits", "small"), ("too-much", "x" * 6000)):
                s.mail("app@example.com")
                s.rcpt("user@example.net")
                try:
                    code, text = s.data(message(subject, body))
                    print(code, text.decode())
                except smtplib.SMTPDataError as e:
                    print(e.smtp_code, e.smtp_error.decode())
                    s.rset()
        """;

    [Fact]
    public async Task Smtplib_QueuedThenSpoolFull_250WithTheQueueIdThen452_4_3_1AndAnOutcomeLine()
    {
        var python = Peers.RequirePython();
        using var spool = new TempDirectory();
        await using var proxy = await ProxyTestHost.StartAsync(Settings(spool.Path));

        var result = Peers.Run(python, ["-c", SmtplibTwoMessages, proxy.EndPoint.Port.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        string[] lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("250 2.0.0 Ok: queued as ", lines[0]);
        Assert.StartsWith("452 4.3.1 ", lines[1]);
        string id = lines[0]["250 2.0.0 Ok: queued as ".Length..];

        // The queued one is in the spool under the id the sender heard; the refused one is not, and is logged.
        var listed = ProxyProcess.Run(["queue", "list", "--json", $"--Proxy:Queue:Directory={spool.Path}"]);
        using var json = JsonDocument.Parse(listed.StdOut);
        Assert.Equal([id], json.RootElement.EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        var refused = Assert.Single(proxy.Logs.WithEvent(3100), e => e.Field("Outcome") == "upstream-refused");
        Assert.StartsWith("452 4.3.1", refused.Field("UpstreamReply"));
    }

    [Fact]
    public async Task Swaks_Queued_TranscriptShows250QueuedAs()
    {
        var swaks = Peers.RequireTool("swaks", "swaks");
        using var spool = new TempDirectory();
        await using var proxy = await ProxyTestHost.StartAsync(Settings(spool.Path));

        var result = Peers.Run(swaks,
        [
            "--server", $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}", "--ehlo", "swaks.test",
            "--from", "app@example.com", "--to", "user@example.net", "--header", "Subject: swaks",
        ], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.Contains(result.StdOut.Split('\n'), l => l.StartsWith("<-  250 2.0.0 Ok: queued as ", StringComparison.Ordinal));
    }

    private static Dictionary<string, string> Settings(string spool) =>
        ProxyTestHost.SmtpUpstreamSettings(MetricsEndpointTests.ClosedPort(),
            [("Proxy:Relay:Mode", "Queue"), ("Proxy:Queue:Directory", spool), ("Proxy:Queue:MaxBytes", "4000"), ("Proxy:Upstream:ConnectTimeout", "00:00:05")]);
}
