using System.Diagnostics;
using System.Text;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>
/// Interop peers we did not write. Each test that needs one skips, with the reason, when it is
/// missing; .ci/run installs them so CI runs every such test.
/// </summary>
internal static class Peers
{
    /// <summary>Debian's interpreter: aiosmtpd is installed for it, not for whatever python3 is first on PATH.</summary>
    public const string DebianPython = "/usr/bin/python3";

    public static string RequirePython()
    {
        var python = Which("python3") ?? (File.Exists(DebianPython) ? DebianPython : null);
        if (python is null)
        {
            Assert.Skip("python3 is not installed (the stdlib smtplib/email peers need it)");
        }

        return python;
    }

    public static string RequireAiosmtpd()
    {
        if (!File.Exists(DebianPython) || Run(DebianPython, ["-c", "import aiosmtpd"], TimeSpan.FromSeconds(30)).ExitCode != 0)
        {
            Assert.Skip("aiosmtpd is not installed for /usr/bin/python3 (apt-get install python3-aiosmtpd)");
        }

        return DebianPython;
    }

    public static string RequireTool(string name, string package)
    {
        var path = Which(name) ?? new[] { "/usr/sbin", "/usr/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
        if (path is null)
        {
            Assert.Skip($"{name} is not installed (apt-get install {package})");
        }

        return path;
    }

    public static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    /// <summary>Runs a process to completion within <paramref name="timeout"/>; kills it by PID past that.</summary>
    public static Result Run(string file, IEnumerable<string> args, TimeSpan timeout, string? stdin = null)
    {
        using var process = Start(file, args);
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
            throw new TimeoutException($"{file} did not finish within {timeout}");
        }

        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static Process Start(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start " + file);
    }

    /// <summary>Stops a process we started, by its PID, and waits a bounded time for it.</summary>
    public static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
