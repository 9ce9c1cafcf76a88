using System.Diagnostics;

namespace SmtpAmpProxy.Smtp.Tests.Support;

internal sealed record ServerTestProcessResult(int ExitCode, string Output, string Error);

/// <summary>Runs an interop peer with a bounded wait; on timeout the process (by its PID) is killed.</summary>
internal static class ServerTestProcess
{
    public static async Task<ServerTestProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, string? stdin = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start " + fileName);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            throw new TimeoutException($"{fileName} did not finish in time; killed PID {process.Id}. Output: {await output} {await error}");
        }

        return new ServerTestProcessResult(process.ExitCode, await output, await error);
    }
}
