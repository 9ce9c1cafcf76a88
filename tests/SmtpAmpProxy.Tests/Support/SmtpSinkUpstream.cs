using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>Postfix's smtp-sink as the upstream: dumps each transaction it accepts into a folder.</summary>
internal sealed class SmtpSinkUpstream : IDisposable
{
    private readonly Process _process;

    private SmtpSinkUpstream(Process process, int port, TempDirectory directory)
    {
        _process = process;
        Port = port;
        Directory = directory;
    }

    public int Port { get; }

    public TempDirectory Directory { get; }

    public static SmtpSinkUpstream Start(params string[] options)
    {
        var sink = Peers.RequireTool("smtp-sink", "postfix");
        var directory = new TempDirectory();

        // smtp-sink drops root privileges for the user named by -u, who must be able to write the dumps.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);
        }
        var port = FreePort();
        var process = Peers.Start(sink, ["-u", "nobody", "-d", Path.Combine(directory.Path, "%H%M%S."), .. options, $"127.0.0.1:{port}", "100"]);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!CanConnect(port))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                Peers.Stop(process);
                throw new InvalidOperationException("smtp-sink did not start: " + process.StandardError.ReadToEnd());
            }

            Thread.Sleep(20);
        }

        return new SmtpSinkUpstream(process, port, directory);
    }

    /// <summary>Dump files written so far (smtp-sink writes one per completed transaction).</summary>
    public int MessageCount => System.IO.Directory.GetFiles(Directory.Path).Length;

    public void Dispose()
    {
        Peers.Stop(_process);
        _process.Dispose();
        Directory.Dispose();
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
