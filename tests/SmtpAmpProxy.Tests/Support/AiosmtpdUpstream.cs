using System.Diagnostics;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>aiosmtpd as the proxy's upstream: a peer we did not write, storing what it receives.</summary>
internal sealed class AiosmtpdUpstream : IDisposable
{
    private readonly Process _process;

    private AiosmtpdUpstream(Process process, int port, TempDirectory directory)
    {
        _process = process;
        Port = port;
        Directory = directory;
    }

    public int Port { get; }

    public TempDirectory Directory { get; }

    public static AiosmtpdUpstream Start(params string[] options)
    {
        var python = Peers.RequireAiosmtpd();
        var directory = new TempDirectory();
        var process = Peers.Start(python, [RepoPaths.Peer("aiosmtpd_upstream.py"), directory.Path, .. options]);
        var ready = process.StandardOutput.ReadLineAsync();
        if (!ready.Wait(TimeSpan.FromSeconds(30)) || ready.Result is not { } line || !line.StartsWith("READY ", StringComparison.Ordinal))
        {
            Peers.Stop(process);
            throw new InvalidOperationException("aiosmtpd did not start: " + process.StandardError.ReadToEnd());
        }

        return new AiosmtpdUpstream(process, int.Parse(line["READY ".Length..], System.Globalization.CultureInfo.InvariantCulture), directory);
    }

    public string[] Messages() => [.. System.IO.Directory.GetFiles(Directory.Path, "*.eml").Order(StringComparer.Ordinal)];

    public void Dispose()
    {
        Peers.Stop(_process);
        _process.Dispose();
        Directory.Dispose();
    }
}
