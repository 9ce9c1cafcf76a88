using System.Diagnostics;
using System.Net;
using System.Text.Json;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Hosting;

/// <summary>
/// Proxy:Performance:InlineSocketCompletions reaches the runtime only through an environment variable read
/// once per process, so the real executable is started: the start log names the mode in effect, and mail
/// flows in it.
/// </summary>
public sealed class SocketCompletionModeTests
{
    private const string Inline = "inline on the socket event threads";
    private const string ThreadPool = "on the thread pool";

    [Theory]
    [InlineData(true, null, true)]
    [InlineData(false, null, false)]
    [InlineData(true, "0", false)]
    [InlineData(false, "1", true)]
    [InlineData(true, " 1 ", false)]
    [InlineData(true, "yes", false)]
    public void Decide_TheRuntimeVariableWinsOverTheOption_ReadExactlyAsTheRuntimeReadsIt(bool configured, string? variable, bool expected) =>
        Assert.Equal(expected, SocketCompletions.Decide(configured, variable));

    [Fact]
    public async Task LeaveEventThread_LeavesEveryThreadButAPoolThread()
    {
        bool? dedicated = null;
        var thread = new Thread(() => dedicated = SocketCompletions.MustLeave(Thread.CurrentThread)) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));
        var pool = await Task.Run(() => SocketCompletions.MustLeave(Thread.CurrentThread), TestContext.Current.CancellationToken);

        Assert.True(dedicated);
        Assert.False(pool);

        // From a pool thread there is nothing to leave: no hop, no allocation of a continuation.
        var stayed = await Task.Run(() => SocketCompletions.LeaveEventThreadAsync().IsCompleted, TestContext.Current.CancellationToken);
        Assert.True(stayed);
    }

    [Theory]
    [InlineData(null, null, Inline)]
    [InlineData("false", null, ThreadPool)]
    [InlineData(null, "0", ThreadPool)]
    public async Task Process_LogsTheModeInEffect_AndRelaysInIt(string? option, string? variable, string expected)
    {
        using var directory = new TempDirectory();
        var outbox = Path.Combine(directory.Path, "outbox");
        List<string> args =
        [
            "--Proxy:Upstream:Mode=Directory", $"--Proxy:Upstream:Directory={outbox}",
            "--Proxy:Listen:0:Endpoint=127.0.0.1:0", "--Proxy:Http:Endpoint=", "--Logging:LogLevel:Default=Information",
        ];
        if (option is not null)
        {
            args.Add($"--Proxy:Performance:InlineSocketCompletions={option}");
        }

        using var process = ProxyProcess.Start(args, new Dictionary<string, string?> { [SocketCompletions.Variable] = variable });
        try
        {
            var (endPoint, mode) = await ReadStartAsync(process);
            Assert.Equal(expected, mode);

            var (client, _) = await RawSmtpClient.ConnectAsync(endPoint);
            await using (client)
            {
                Assert.StartsWith("250", await client.CommandAsync("EHLO mode.test"));
                for (var i = 0; i < 3; i++)
                {
                    Assert.StartsWith("250 2.0.0", await client.SendMessageAsync("a@example.com", ["b@example.net"],
                        TestMessages.DotStuff(TestMessages.PlainText($"mode-{i}"))));
                }
            }

            Assert.Equal(3, Directory.GetFiles(outbox, "*.eml").Length);
        }
        finally
        {
            Peers.Stop(process);
        }
    }

    /// <summary>
    /// The appliance's default mode under concurrent load, with peers on both sides: Postfix's smtp-source
    /// (20 sessions, plain and misordered AMP mail) into the real executable, relaying to smtp-sink.
    /// </summary>
    [Fact]
    public async Task Process_InlineMode_SmtpSourceThroughProxyIntoSmtpSink_EveryMessageArrives()
    {
        var smtpSource = Peers.RequireTool("smtp-source", "postfix");
        using var sink = SmtpSinkUpstream.Start();
        using var directory = new TempDirectory();
        var amp = Path.Combine(directory.Path, "amp.eml");

        // smtp-source -F appends CRLF to every line it reads, so the file has LF line ends.
        await File.WriteAllTextAsync(amp, System.Text.Encoding.UTF8.GetString(
            TestMessages.Alternative("load", TestMessages.Plain, TestMessages.Html, TestMessages.Amp)).Replace("\r\n", "\n", StringComparison.Ordinal),
            TestContext.Current.CancellationToken);
        using var process = ProxyProcess.Start(
        [
            "--Proxy:Upstream:Mode=Smtp", "--Proxy:Upstream:Host=127.0.0.1", $"--Proxy:Upstream:Port={sink.Port}",
            "--Proxy:Upstream:Tls=None", "--Proxy:Upstream:Username=", "--Proxy:Upstream:MaxConnections=8", "--Proxy:Upstream:MaxConnectionsPerClient=8",
            // 20 sessions share 8 connections: a session may wait for several messages to finish, which on a
            // loaded machine takes longer than the default PoolWait; this test is about delivery, not the wait.
            "--Proxy:Upstream:PoolWait=00:01:00",
            "--Proxy:Listen:0:Endpoint=127.0.0.1:0", "--Proxy:Http:Endpoint=", "--Logging:LogLevel:Default=Information",
        ], new Dictionary<string, string?> { [SocketCompletions.Variable] = null });
        try
        {
            var (endPoint, mode) = await ReadStartAsync(process);
            Assert.Equal(Inline, mode);
            var target = $"{endPoint.Address}:{endPoint.Port}";
            const int Plain = 200;
            const int Amp = 100;

            var plain = Peers.Run(smtpSource, ["-d", "-s", "20", "-m", $"{Plain}", "-l", "5000", "-f", "a@example.com", "-t", "b@example.net", target], TimeSpan.FromSeconds(120));
            var repaired = Peers.Run(smtpSource, ["-d", "-s", "20", "-m", $"{Amp}", "-F", amp, "-f", "a@example.com", "-t", "b@example.net", target], TimeSpan.FromSeconds(120));

            Assert.True(plain.ExitCode == 0, plain.StdOut + plain.StdErr);
            Assert.True(repaired.ExitCode == 0, repaired.StdOut + repaired.StdErr);
            Assert.Equal(Plain + Amp, sink.MessageCount);
        }
        finally
        {
            Peers.Stop(process);
        }
    }

    /// <summary>Reads the JSON log on stdout until both the listening line (3000) and the mode line (3005) were seen.</summary>
    private static async Task<(IPEndPoint EndPoint, string Mode)> ReadStartAsync(Process process)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        IPEndPoint? endPoint = null;
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            using var json = JsonDocument.Parse(line);
            var state = json.RootElement.GetProperty("State");
            switch (json.RootElement.GetProperty("EventId").GetInt32())
            {
                case 3000:
                    endPoint = IPEndPoint.Parse(state.GetProperty("EndPoint").GetString()!);
                    break;
                case 3005 when endPoint is not null:
                    return (endPoint, state.GetProperty("Mode").GetString()!);
            }
        }

        throw new InvalidOperationException("the proxy exited before it was ready: " + await process.StandardError.ReadToEndAsync(timeout.Token));
    }
}
