using System.Diagnostics;
using System.Text;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Load;

/// <summary>
/// The real executable in its default mode, where socket continuations run on the runtime's event threads:
/// while one session's costly message is normalized, other sessions' commands are still answered.
/// </summary>
public sealed class EventThreadIsolationTests
{
    /// <summary>
    /// A 16 MB AMP document of nothing but raw-text elements, the markup scanner's most expensive bytes, held in
    /// memory (the buffer is raised so it does not spill, which would take it off the event thread anyway).
    /// Idle sessions, more than there are event threads so one shares the costly session's thread, send NOOP
    /// after NOOP from the end of the data until the reply to it. Each must get NOOP replies in every quarter of
    /// that window; normalizing on the event thread fills most of it, so the session sharing that thread would
    /// get none for two quarters or more. The figures go to the test output.
    /// </summary>
    [Fact]
    public async Task Process_HostileMessageBeingNormalized_OtherSessionsNoopRepliesKeepFlowing()
    {
        using var directory = new TempDirectory();
        var outbox = Path.Combine(directory.Path, "outbox");
        using var process = ProxyProcess.Start(
        [
            "--Proxy:Upstream:Mode=Directory", $"--Proxy:Upstream:Directory={outbox}",
            "--Proxy:Listen:0:Endpoint=127.0.0.1:0", "--Proxy:Http:Endpoint=", "--Logging:LogLevel:Default=Information",
            "--Proxy:Limits:MemoryBufferBytes=67108864",
        ], new Dictionary<string, string?> { [SocketCompletions.Variable] = null });
        try
        {
            var endPoint = await ProxyLogLines.Follow(process).ListeningAsync();

            var (hostile, _) = await RawSmtpClient.ConnectAsync(endPoint);
            var idle = new List<RawSmtpClient>();
            await using var closeHostile = hostile;
            try
            {
                for (var i = 0; i < Math.Min(2 * Environment.ProcessorCount + 1, 17); i++)
                {
                    var (client, _) = await RawSmtpClient.ConnectAsync(endPoint);
                    idle.Add(client);
                    Assert.StartsWith("250", await client.CommandAsync("EHLO idle.test"));
                }

                Assert.StartsWith("250", await hostile.CommandAsync("EHLO hostile.test"));
                Assert.StartsWith("250", await hostile.CommandAsync("MAIL FROM:<a@example.com>"));
                Assert.StartsWith("250", await hostile.CommandAsync("RCPT TO:<b@example.net>"));
                Assert.StartsWith("354", await hostile.CommandAsync("DATA"));
                await hostile.SendAsync(CostlyAmpMessage(16 * 1024 * 1024));
                await hostile.SendAsync("\r\n.\r\n"u8.ToArray());
                var dataEnd = Stopwatch.GetTimestamp();
                var finalReply = Task.Run(async () => (await hostile.ReadReplyAsync(), Stopwatch.GetTimestamp()), TestContext.Current.CancellationToken);

                var pings = idle.Select(client => Task.Run(() => PingUntilAsync(client, finalReply), TestContext.Current.CancellationToken)).ToList();
                var (reply, repliedAt) = await finalReply;
                var trips = await Task.WhenAll(pings);

                Assert.StartsWith("250", reply);
                var window = repliedAt - dataEnd;
                var all = trips.SelectMany(t => t).Where(t => t.Received <= repliedAt).Select(t => Stopwatch.GetElapsedTime(t.Sent, t.Received).TotalMilliseconds).Order().ToList();
                TestContext.Current.TestOutputHelper?.WriteLine(
                    $"message handled in {Stopwatch.GetElapsedTime(dataEnd, repliedAt).TotalMilliseconds:F0} ms after its data; "
                    + $"{all.Count} NOOP round trips on {idle.Count} other sessions meanwhile, median {all[all.Count / 2]:F2} ms, max {all[^1]:F2} ms");
                for (var i = 0; i < trips.Length; i++)
                {
                    for (var quarter = 0; quarter < 4; quarter++)
                    {
                        var from = dataEnd + (window * quarter / 4);
                        var to = dataEnd + (window * (quarter + 1) / 4);
                        Assert.True(trips[i].Any(t => t.Received >= from && t.Received < to),
                            $"session {i} got no NOOP reply in quarter {quarter + 1} of the hostile message's handling ({trips[i].Count} round trips in all)");
                    }
                }
            }
            finally
            {
                foreach (var client in idle)
                {
                    await client.DisposeAsync();
                }
            }

            Assert.Single(Directory.GetFiles(outbox, "*.eml"));
        }
        finally
        {
            Peers.Stop(process);
        }
    }

    private static async Task<List<(long Sent, long Received)>> PingUntilAsync(RawSmtpClient client, Task done)
    {
        // Bounded: the hostile reply ends it, and no more than 100,000 round trips are made.
        var trips = new List<(long Sent, long Received)>();
        while (!done.IsCompleted && trips.Count < 100_000)
        {
            var sent = Stopwatch.GetTimestamp();
            var reply = await client.CommandAsync("NOOP");
            trips.Add((sent, Stopwatch.GetTimestamp()));
            Assert.StartsWith("250", reply);
        }

        return trips;
    }

    /// <summary>A compliant alternative whose AMP document is <paramref name="size"/> bytes of style and title elements.</summary>
    private static byte[] CostlyAmpMessage(int size)
    {
        var sb = new StringBuilder(size + 1024)
            .Append("From: a@example.com\r\nTo: b@example.net\r\nSubject: costly\r\nMIME-Version: 1.0\r\n")
            .Append("Content-Type: multipart/alternative; boundary=b\r\n\r\n")
            .Append("--b\r\nContent-Type: text/x-amp-html; charset=utf-8\r\n\r\n<!doctype html><html amp4email><head></head><body>\r\n");
        while (sb.Length < size)
        {
            sb.Append("<style amp-custom>a{}</style><title>t</title><style>b{}</style><title>u</title>\r\n");
        }

        sb.Append("</body></html>\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b--");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }
}
