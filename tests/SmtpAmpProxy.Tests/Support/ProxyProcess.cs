using System.Diagnostics;
using System.Text;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>The built executable as a real process (the way operators and the container run it).</summary>
internal static class ProxyProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "smtp-amp-proxy.dll");

    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // The test's own environment must not leak a real key or overrides into the process.
        info.Environment.Remove("SENDGRID_API_KEY");
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("Proxy__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start the proxy");
    }

    public static Peers.Result Run(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, string? stdin = null, string? workingDirectory = null)
    {
        using var process = Start(args, environment, workingDirectory);
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            Peers.Stop(process);
            throw new TimeoutException("the proxy process did not exit");
        }

        process.WaitForExit();
        return new Peers.Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
