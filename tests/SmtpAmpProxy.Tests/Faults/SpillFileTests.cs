using System.Diagnostics;
using System.Text;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Faults;

/// <summary>
/// Large messages spill to disk; the real process is killed or starved of disk while one is in DATA. Nothing may
/// be left behind, and a full disk is an SMTP reply, a log line and a metric, not a dropped connection.
/// </summary>
public sealed class SpillFileTests
{
    [Fact]
    public async Task SigKillMidDataOfASpillingMessage_LeavesTheSpillFolderEmpty_AndStartSweepsOlderLeftovers()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("spill files and /proc are tested on Linux");
        }

        using var directory = new TempDirectory();
        var spill = Directory.CreateDirectory(directory.File("spill")).FullName;
        var leftover = Path.Combine(spill, $"smtp-{Guid.NewGuid():N}.msg");
        await File.WriteAllTextAsync(leftover, "Subject: spilled by an older version, then kill -9\r\n\r\nbody\r\n", TestContext.Current.CancellationToken);

        using var process = ProxyProcess.Start(Arguments(directory, spill));
        try
        {
            var logs = ProxyLogLines.Follow(process);
            var endPoint = await logs.ListeningAsync();
            Assert.False(File.Exists(leftover), "the start sweeps spill files an earlier process left");

            var (client, _) = await RawSmtpClient.ConnectAsync(endPoint);
            await using (client)
            {
                Assert.StartsWith("250", await client.CommandAsync("EHLO crash.test"));
                Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@example.com>"));
                Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<b@example.net>"));
                Assert.StartsWith("354", await client.CommandAsync("DATA"));
                await client.SendAsync(LargeBody(1024 * 1024));

                // The message is on disk (the proxy holds a spill file open) yet the folder lists nothing.
                await Eventually.UntilAsync(() => OpenDeletedFiles(process.Id, spill).Any(), () => "the proxy spills the message");
                Assert.Empty(Directory.EnumerateFileSystemEntries(spill));

                Assert.Equal(0, Signals.Send(process.Id, Signals.Kill));
                Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the proxy survived SIGKILL");
            }

            Assert.Empty(Directory.EnumerateFileSystemEntries(spill));
            Assert.False(Directory.Exists(directory.File("outbox")) && Directory.EnumerateFiles(directory.File("outbox")).Any());
        }
        finally
        {
            Peers.Stop(process);
        }
    }

    [Fact]
    public async Task FullDiskMidDataOfASpillingMessage_Gets452_4_3_1_LogsAnErrorMovesTheMetric_AndTheSessionKeepsWorking()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("the full disk is a tmpfs mounted in a private mount namespace (Linux)");
        }

        using var directory = new TempDirectory();
        var spill = Directory.CreateDirectory(directory.File("spill")).FullName;
        var wrapper = SmallTmpfsWrapper(spill, "512k");

        using var process = ProxyProcess.Start([.. Arguments(directory, spill), "--Proxy:Http:Endpoint=127.0.0.1:0"], wrapper: wrapper);
        try
        {
            var logs = ProxyLogLines.Follow(process);
            var endPoint = await logs.ListeningAsync();
            var http = await logs.HttpListeningAsync();

            var (client, _) = await RawSmtpClient.ConnectAsync(endPoint);
            await using (client)
            {
                Assert.StartsWith("250", await client.CommandAsync("EHLO full.test"));

                // 2 MiB into a 512 KiB folder: refused for storage, the rest of the data read and dropped.
                Assert.Equal("452 4.3.1 Error: insufficient system storage",
                    await client.SendMessageAsync("a@example.com", ["b@example.net"], LargeBody(2 * 1024 * 1024)));

                // The same connection goes on: a message in memory, then one that spills and fits (the failed
                // spill gave its space back).
                Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], LargeBody(8 * 1024)));
                Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], LargeBody(200 * 1024)));
                Assert.StartsWith("221", await client.CommandAsync("QUIT"));
            }

            Assert.Equal(2, Directory.EnumerateFiles(directory.File("outbox"), "*.eml").Count());
            var error = await logs.EventAsync(1037);
            Assert.Equal("Error", error.GetProperty("LogLevel").GetString());
            Assert.Contains("No space left on device", error.GetProperty("Message").GetString());

            using var web = new HttpClient();
            var metrics = await web.GetStringAsync($"http://{http}/metrics", TestContext.Current.CancellationToken);
            Assert.Equal(1, Http.OpsHttp.Sample(metrics, "smtp_amp_proxy_spill_write_failures_total"));
        }
        finally
        {
            Peers.Stop(process);
        }
    }

    [Fact]
    public async Task Readyz_SpillFolderBecomesUnwritable_Answers503NamingTheSpillFolder()
    {
        using var directory = new TempDirectory();
        var spill = directory.File("spill");
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Http:Endpoint"] = "127.0.0.1:0",
            ["Proxy:Limits:SpillDirectory"] = spill,
        });
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Http.OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz")).Status);

        // The volume goes away under the running proxy: a plain file now stands where the folder was.
        Directory.Delete(spill, recursive: true);
        await File.WriteAllTextAsync(spill, "not a folder", TestContext.Current.CancellationToken);

        var answer = await Http.OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.Contains("spill-folder", answer.Body);
        Assert.Contains(spill, answer.Body);
    }

    private static string[] Arguments(TempDirectory directory, string spill) =>
    [
        "--Proxy:Upstream:Mode=Directory", $"--Proxy:Upstream:Directory={directory.File("outbox")}",
        "--Proxy:Listen:0:Endpoint=127.0.0.1:0", "--Proxy:Http:Endpoint=", "--Logging:LogLevel:Default=Information",
        "--Proxy:Limits:MemoryBufferBytes=65536", $"--Proxy:Limits:SpillDirectory={spill}",
    ];

    /// <summary>A plain-text message of about <paramref name="bytes"/> bytes, dot-stuffed (no line starts with a dot).</summary>
    private static byte[] LargeBody(int bytes)
    {
        var builder = new StringBuilder("From: a@example.com\r\nTo: b@example.net\r\nSubject: large\r\n\r\n");
        var line = new string('x', 76) + "\r\n";
        while (builder.Length < bytes)
        {
            builder.Append(line);
        }

        return Encoding.ASCII.GetBytes(builder.ToString());
    }

    /// <summary>
    /// Runs the proxy in its own mount namespace with a tmpfs of <paramref name="size"/> on the spill folder: a
    /// real full disk (ENOSPC), gone with the process. As root, or in a user namespace where that is allowed.
    /// </summary>
    private static string[] SmallTmpfsWrapper(string folder, string size)
    {
        var unshare = Peers.RequireTool("unshare", "util-linux");
        const string Mount = "mount -t tmpfs -o size=\"$1\",mode=0700 tmpfs \"$0\" && shift && exec \"$@\"";
        foreach (var flags in new[] { "-m", "-rm" })
        {
            var probe = Peers.Run(unshare, [flags, "sh", "-c", Mount, folder, size, "true"], TimeSpan.FromSeconds(30));
            if (probe.ExitCode == 0)
            {
                return [unshare, flags, "sh", "-c", Mount, folder, size];
            }
        }

        Assert.Skip("cannot mount a tmpfs in a private mount namespace here (unshare -m and -rm both refused)");
        return [];
    }

    private static IEnumerable<string> OpenDeletedFiles(int pid, string folder)
    {
        var prefix = folder.TrimEnd('/') + "/";
        IEnumerable<string> fds;
        try
        {
            fds = Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (var fd in fds)
        {
            string? target = null;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }

            if (target is not null && target.StartsWith(prefix, StringComparison.Ordinal) && target.EndsWith(" (deleted)", StringComparison.Ordinal))
            {
                yield return target;
            }
        }
    }


}
