using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>
/// Postfix's smtp-sink as the upstream, dumping each transaction into a folder, on a port that stays the
/// same across restarts: kill it by PID, start it again (with other fault flags if wanted), and the
/// proxy's pooled connections point at a dead process.
/// </summary>
internal sealed class SmtpSinkUpstream : IDisposable
{
    private readonly string _sink;
    private readonly TempDirectory _dumps = new();
    private Process? _process;

    private SmtpSinkUpstream(string sink, int port)
    {
        _sink = sink;
        Port = port;

        // smtp-sink drops root privileges for the user named by -u, who must be able to write the dumps.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_dumps.Path, (UnixFileMode)0x1FF);
        }
    }

    public int Port { get; }

    /// <summary>
    /// Messages that reached the sink, across every restart: dump files holding message content (smtp-sink
    /// also dumps transactions that ended before DATA, with the envelope only).
    /// </summary>
    public int MessageCount => MessageFiles().Length;

    /// <summary>The dump files that hold message content, in name order.</summary>
    public string[] MessageFiles() => [.. Directory.GetFiles(_dumps.Path).Where(HoldsMessage).Order(StringComparer.Ordinal)];

    /// <summary>smtp-sink removes the dump of a transaction it refused, so a listed file may be gone when read.</summary>
    private static bool HoldsMessage(string file)
    {
        try
        {
            return File.ReadAllText(file).Contains("Message-ID: <", StringComparison.OrdinalIgnoreCase);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    public static SmtpSinkUpstream Start(params string[] flags)
    {
        var sink = new SmtpSinkUpstream(Peers.RequireTool("smtp-sink", "postfix"), FreePort());
        sink.Launch(flags);
        return sink;
    }

    /// <summary>Kills the running sink by its PID and starts a new one on the same port.</summary>
    public void Restart(params string[] flags)
    {
        Kill();
        Launch(flags);
    }

    public void Kill()
    {
        if (_process is not null)
        {
            Peers.Stop(_process);
            _process.Dispose();
            _process = null;
        }
    }

    public void Dispose()
    {
        Kill();
        _dumps.Dispose();
    }

    private void Launch(string[] flags)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var process = Peers.Start(_sink, ["-u", "nobody", "-d", Path.Combine(_dumps.Path, "%H%M%S."), .. flags, $"127.0.0.1:{Port}", "100"]);
            while (!process.HasExited && !CanConnect(Port) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }

            if (!process.HasExited && CanConnect(Port))
            {
                _process = process;
                return;
            }

            // The old sink's port may still be held for a moment after the kill: try again, bounded.
            var error = process.HasExited ? process.StandardError.ReadToEnd() : "not listening";
            Peers.Stop(process);
            process.Dispose();
            if (DateTime.UtcNow >= deadline)
            {
                throw new InvalidOperationException($"smtp-sink did not start on port {Port}: {error}");
            }

            Thread.Sleep(100);
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static bool CanConnect(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
