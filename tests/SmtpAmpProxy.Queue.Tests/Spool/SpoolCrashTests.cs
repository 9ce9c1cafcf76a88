using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Queue.Tests.Support;
using SmtpAmpProxy.Smtp.Client;

namespace SmtpAmpProxy.Queue.Tests.Spool;

/// <summary>
/// The spool's promise under <c>kill -9</c>: a child process spools messages as fast as it can from
/// several writers and prints each id the moment the spool says accepted (where the proxy says 250);
/// the test kills it with SIGKILL mid-stream, opens the spool and finds every printed message whole.
/// </summary>
public sealed class SpoolCrashTests
{
    internal const string ChildVariable = "SMTP_AMP_PROXY_QUEUE_CRASH_CHILD";

    [Fact]
    public async Task SigkillWhileWriting_EveryAcceptedMessageWholeAfterRestartAndDebrisRemoved()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("SIGKILL is a Unix signal");
        }

        using var dir = new TempDirectory();
        var accepted = new List<string>();
        for (int round = 0; round < 3; round++)
        {
            accepted.AddRange(await RunAndKillAsync(dir.Path, killAfter: 20 + (round * 15)));
        }

        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance);
        var spooled = queue.Snapshot().ToDictionary(m => m.Id);
        Assert.True(accepted.Count >= 20 + 35 + 50, $"only {accepted.Count} accepted");
        foreach (string id in accepted)
        {
            Assert.True(spooled.ContainsKey(id), $"{id} was accepted and is gone");
            byte[]? content = MessageSpool.ReadContentOffline(dir.Path, id);
            Assert.True(content is not null && IsWhole(content), $"{id} is damaged");
        }

        // Messages not yet announced may be there too (accepted just before the kill); each is whole.
        Assert.All(spooled.Keys, id => Assert.True(IsWhole(MessageSpool.ReadContentOffline(dir.Path, id)!)));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "tmp")));
        Assert.Equal(spooled.Keys.Order(StringComparer.Ordinal), MessageSpool.ReadAll(dir.Path).Select(m => m.Id));
    }

    private static async Task<List<string>> RunAndKillAsync(string directory, int killAfter)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(SpoolCrashTests).Assembly.Location);
        info.Environment[ChildVariable] = directory;
        info.Environment["DOTNET_STARTUP_HOOKS"] = typeof(SpoolCrashTests).Assembly.Location;
        using Process child = Process.Start(info) ?? throw new InvalidOperationException("could not start the writer");
        Task<string> stderr = child.StandardError.ReadToEndAsync(CancellationToken.None);
        var accepted = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            while (accepted.Count < killAfter && await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                accepted.Add(line);
            }
        }
        finally
        {
            // Process.Kill is SIGKILL on Unix: no finally blocks, no flush, exactly what a power cut does to the process.
            child.Kill();
            await child.WaitForExitAsync(CancellationToken.None);
        }

        Assert.True(accepted.Count >= killAfter, "writer stopped early: " + await stderr);

        // Lines already in the pipe were accepted before the kill too.
        while (await child.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
        {
            if (QueueId.IsValid(line))
            {
                accepted.Add(line);
            }
        }

        return accepted;
    }

    /// <summary>The writer's message: a random body and its SHA-256 in a header, so damage shows.</summary>
    private static byte[] CrashMessage(int size)
    {
        byte[] body = Encoding.ASCII.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(size)));
        string hash = Convert.ToHexString(SHA256.HashData(body));
        return [.. Encoding.ASCII.GetBytes($"X-Body-Sha256: {hash}\r\nSubject: crash\r\n\r\n"), .. body];
    }

    private static bool IsWhole(byte[] content)
    {
        string text = Encoding.ASCII.GetString(content);
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (!text.StartsWith("X-Body-Sha256: ", StringComparison.Ordinal) || end < 0)
        {
            return false;
        }

        string hash = text[15..text.IndexOf("\r\n", StringComparison.Ordinal)];
        return hash == Convert.ToHexString(SHA256.HashData(content.AsSpan(end + 4)));
    }

    internal static void RunWriter(string directory)
    {
        var queue = MailQueue.Open(new QueueOptions { Directory = directory }, ScriptedDelivery.Always(ScriptedDelivery.Ok), TimeProvider.System, NullLoggerFactory.Instance);
        var output = Console.Out;
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (int i = 0; ; i++)
            {
                byte[] message = CrashMessage(1024 << ((i + w) % 9));
                EnqueueResult result = await queue.EnqueueAsync("s@example.com", null, [new SmtpRecipient("r@example.net")], [message], CancellationToken.None);
                if (result.IsAccepted)
                {
                    lock (output)
                    {
                        output.WriteLine(result.QueueId);
                        output.Flush();
                    }
                }
            }
        })).ToArray();
        Task.WaitAll(writers);
    }
}
