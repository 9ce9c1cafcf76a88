using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Deployment;

/// <summary>
/// No container engine runs here, so this does what the image build and <c>docker run</c> would: the
/// build stage's <c>dotnet</c> commands as the Dockerfile writes them, then the ENTRYPOINT and the
/// HEALTHCHECK command with <c>/app</c> mapped to the publish folder.
/// </summary>
public sealed class PublishedImageTests
{
    private const string ImageAppDirectory = "/app";

    // A fixed folder: publish after publish only rebuilds what changed (the first one restores and
    // compiles all four projects, minutes on a small machine).
    private static readonly string Artifacts = Path.Combine(Path.GetTempPath(), "art-ops-publish");

    [Fact]
    public async Task PublishedOutput_RunAsTheImageWould_ServesHealthMetricsAndMail()
    {
        using var work = new TempDirectory();
        var publish = Path.Combine(work.Path, "app");
        var instructions = DeploymentFiles.DockerInstructions();
        var build = instructions.Where(i => i.Stage == 0 && i.Keyword == "RUN" && i.Arguments.StartsWith("dotnet ", StringComparison.Ordinal)).ToList();
        Assert.Contains(build, i => i.Arguments.StartsWith("dotnet publish ", StringComparison.Ordinal));
        foreach (var (_, _, command) in build)
        {
            // The build stage's WORKDIR /src holds what the repository root holds.
            string[] args = [.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(a => a.StartsWith(ImageAppDirectory + "/publish", StringComparison.Ordinal) ? publish : a), "--artifacts-path", Artifacts];
            var (exit, output) = await RunToEndAsync(args, RepoPaths.Root, new Dictionary<string, string>(), TimeSpan.FromMinutes(15));
            Assert.True(exit == 0, $"{command}\n{output}");
        }

        Assert.True(File.Exists(Path.Combine(publish, "config", "appsettings.json")), "the image's /app/config/appsettings.json is missing");
        var runtime = instructions.Where(i => i.Stage == instructions.Max(x => x.Stage)).ToList();
        var entrypoint = MapToPublish(DeploymentFiles.ExecForm(runtime.Single(i => i.Keyword == "ENTRYPOINT").Arguments), publish);
        var healthcheck = MapToPublish(DeploymentFiles.ExecForm(runtime.Single(i => i.Keyword == "HEALTHCHECK").Arguments), publish);

        var outbox = Path.Combine(work.Path, "outbox");
        using var proxy = StartProcess(entrypoint, publish, new Dictionary<string, string>
        {
            ["Proxy__Upstream__Mode"] = "Directory",
            ["Proxy__Upstream__Directory"] = outbox,
            ["Proxy__Listen__0__Endpoint"] = "127.0.0.1:0",
            ["Proxy__Http__Endpoint"] = "127.0.0.1:0",
        });
        var lines = new BlockingCollection<string>();
        proxy.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lines.Add(e.Data);
            }
        };
        proxy.BeginOutputReadLine();
        proxy.BeginErrorReadLine();
        try
        {
            var (smtp, http) = WaitForEndpoints(proxy, lines, TimeSpan.FromSeconds(60));

            var health = await OpsHttp.SendAsync(http, "/healthz");
            Assert.Equal(HttpStatusCode.OK, health.Status);
            Assert.Equal(HttpStatusCode.OK, (await OpsHttp.SendAsync(http, "/readyz")).Status);

            var (client, _) = await RawSmtpClient.ConnectAsync(smtp);
            await using (client)
            {
                var message = TestMessages.Alternative("published", TestMessages.Plain, TestMessages.Html, TestMessages.Amp);
                Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(message)));
            }

            var metrics = (await OpsHttp.SendAsync(http, "/metrics")).Body;
            foreach (var name in new[]
            {
                "smtp_amp_proxy_messages_received_total", "smtp_amp_proxy_messages_relayed_total", "smtp_amp_proxy_messages_repaired_total",
                "smtp_amp_proxy_messages_rejected_total", "smtp_amp_proxy_upstream_errors_total", "smtp_amp_proxy_sessions_active",
                "smtp_amp_proxy_relay_duration_seconds",
            })
            {
                Assert.Contains($"# TYPE {name} ", metrics);
            }

            Assert.Equal(1, OpsHttp.Sample(metrics, "smtp_amp_proxy_messages_repaired_total{action=\"amp-after-html\"}"));
            Assert.Single(Directory.GetFiles(outbox, "*.eml"));

            // The HEALTHCHECK as written, told the port the way an operator would move it.
            var (healthExit, healthOutput) = await RunToEndAsync(healthcheck, publish,
                new Dictionary<string, string> { ["Proxy__Http__Endpoint"] = $"0.0.0.0:{http.Port}" }, TimeSpan.FromSeconds(60));
            Assert.True(healthExit == 0, healthOutput);

            // `docker stop` sends SIGTERM: the proxy drains and exits 0.
            Assert.Equal(0, Signals.Send(proxy.Id, Signals.Term));
            Assert.True(proxy.WaitForExit(TimeSpan.FromSeconds(45)), "the proxy did not stop on SIGTERM");
            Assert.Equal(0, proxy.ExitCode);
        }
        finally
        {
            Peers.Stop(proxy);
        }
    }

    private static string[] MapToPublish(string[] command, string publish) =>
        [.. command.Select(a => a.StartsWith(ImageAppDirectory + "/", StringComparison.Ordinal) ? Path.Combine(publish, a[(ImageAppDirectory.Length + 1)..]) : a)];

    /// <summary>Runs a command to its end within <paramref name="limit"/> (stopped by PID past it): exit code and output.</summary>
    private static async Task<(int ExitCode, string Output)> RunToEndAsync(
        string[] command, string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan limit)
    {
        using var process = StartProcess(command, workingDirectory, environment);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!process.WaitForExit(limit))
        {
            Peers.Stop(process);
            Assert.Fail($"{string.Join(' ', command)} did not finish within {limit}");
        }

        process.WaitForExit();
        return (process.ExitCode, await output + await error);
    }

    private static Process StartProcess(string[] command, string workingDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(command[0])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var arg in command[1..])
        {
            info.ArgumentList.Add(arg);
        }

        // Only what the test sets: no real key and no overrides leak in from the test's environment.
        info.Environment.Remove("SENDGRID_API_KEY");
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("Proxy__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start " + command[0]);
    }

    /// <summary>The SMTP and HTTP endpoints from the JSON start log lines (events 3000 and 3200).</summary>
    private static (IPEndPoint Smtp, IPEndPoint Http) WaitForEndpoints(Process process, BlockingCollection<string> lines, TimeSpan limit)
    {
        IPEndPoint? smtp = null;
        IPEndPoint? http = null;
        var seen = new StringBuilder();
        using var deadline = new CancellationTokenSource(limit);
        while (smtp is null || http is null)
        {
            if (process.HasExited)
            {
                Assert.Fail($"the proxy exited with {process.ExitCode}:\n{seen}");
            }

            string line;
            try
            {
                line = lines.Take(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"no start log within {limit}:\n{seen}");
                throw;
            }

            seen.AppendLine(line);
            if (!line.StartsWith('{'))
            {
                continue;
            }

            using var json = JsonDocument.Parse(line);
            var state = json.RootElement.TryGetProperty("State", out var s) ? s : default;
            switch (json.RootElement.GetProperty("EventId").GetInt32())
            {
                case 3000:
                    smtp = IPEndPoint.Parse(state.GetProperty("EndPoint").GetString()!);
                    break;
                case 3200:
                    var url = new Uri(state.GetProperty("Url").GetString()!);
                    http = new IPEndPoint(IPAddress.Parse(url.Host), url.Port);
                    break;
            }
        }

        return (smtp, http);
    }
}
