using System.Diagnostics;
using System.Text.Json;

namespace SmtpAmpProxy.Normalizer.Tests.Interop;

/// <summary>Python's stdlib <c>email</c> package as an independent reader of messages.</summary>
internal static class PythonEmailOracle
{
    internal sealed record Summary(string[][] Alternatives, (string Type, string Sha256)[] Leaves);

    private static readonly Lazy<string?> Python = new(FindPython);

    /// <summary>Skips the calling test, with the reason, when no python3 is installed.</summary>
    public static void RequirePython()
    {
        if (Python.Value is null)
        {
            Assert.Skip("python3 with the stdlib email package is not installed");
        }
    }

    public static async Task<Summary> SummariseAsync(byte[] message, CancellationToken ct)
    {
        RequirePython();
        string file = Path.Combine(Path.GetTempPath(), $"amp-oracle-{Guid.NewGuid():N}.eml");
        await File.WriteAllBytesAsync(file, message, ct);
        try
        {
            string stdout = await RunAsync(Python.Value!, [Path.Combine(AppContext.BaseDirectory, "Interop", "mime_oracle.py"), file], ct);
            using var json = JsonDocument.Parse(stdout);
            var alternatives = json.RootElement.GetProperty("alternatives").EnumerateArray()
                .Select(a => a.EnumerateArray().Select(t => t.GetString()!).ToArray()).ToArray();
            var leaves = json.RootElement.GetProperty("leaves").EnumerateArray()
                .Select(l => (l.GetProperty("type").GetString()!, l.GetProperty("sha256").GetString()!)).ToArray();
            return new Summary(alternatives, leaves);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string? FindPython()
    {
        foreach (string candidate in new[] { "python3", "/usr/bin/python3" })
        {
            try
            {
                string output = RunAsync(candidate, ["-c", "import email, hashlib, json; print('ok')"], CancellationToken.None)
                    .GetAwaiter().GetResult();
                if (output.Trim() == "ok")
                {
                    return candidate;
                }
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
            }
        }

        return null;
    }

    private static async Task<string> RunAsync(string fileName, string[] arguments, CancellationToken ct)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{fileName} exited with {process.ExitCode}: {await stderr}");
            }

            return await stdout;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }
}
