using System.Diagnostics;
using System.Text;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>The built executable as a real process (the way operators and the container run it).</summary>
internal static class ProxyProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "smtp-amp-proxy.dll");

    /// <param name="wrapper">A command that runs the proxy as its last arguments (unshare, a shell that mounts first); it must exec, so the PID is the proxy's.</param>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null,
        IReadOnlyList<string>? wrapper = null)
    {
        var info = new ProcessStartInfo(wrapper is { Count: > 0 } ? wrapper[0] : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        if (wrapper is { Count: > 0 })
        {
            foreach (var arg in wrapper.Skip(1))
            {
                info.ArgumentList.Add(arg);
            }

            info.ArgumentList.Add("dotnet");
        }

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
