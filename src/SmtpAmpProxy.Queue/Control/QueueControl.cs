using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Queue.Spool;

namespace SmtpAmpProxy.Queue.Control;

/// <summary>
/// Commands to the instance that owns a spool (flush, delete) over a Unix socket in the spool folder,
/// as <c>postqueue -f</c> talks to Postfix's master: only whoever can reach the spool folder can use it,
/// and no network port is opened for it. One line in (<c>flush</c>, <c>delete ID</c>), one line out.
/// </summary>
internal sealed class QueueControlServer : IAsyncDisposable
{
    public const string SocketName = "control.sock";

    // A command is a word and a queue id; anything longer is not from our client.
    private const int MaxCommandBytes = 128;

    private readonly MailQueue _queue;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private QueueControlServer(MailQueue queue, ILogger logger, Socket listener)
    {
        _queue = queue;
        _logger = logger;
        _listener = listener;
        _accepting = AcceptAsync();
    }

    public static QueueControlServer Start(MailQueue queue, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ILogger logger = loggerFactory.CreateLogger("SmtpAmpProxy.Queue");
        string path = Path.Combine(queue.Directory, SocketName);
        // The spool lock is ours, so a socket file left here is from a previous run of this instance.
        File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(8);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        QueueLog.ControlListening(logger, path);
        return new QueueControlServer(queue, logger, listener);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                string? command = await ReadLineAsync(client, timeout.Token).ConfigureAwait(false);
                string answer = command is null ? "error: no command" : await ExecuteAsync(command).ConfigureAwait(false);
                QueueLog.ControlCommand(_logger, command ?? "", answer);
                await client.SendAsync(Encoding.UTF8.GetBytes(answer + "\n"), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
            {
                // The client went away or was too slow; it can ask again.
            }
        }
    }

    private async Task<string> ExecuteAsync(string command)
    {
        string[] words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words switch
        {
            ["flush"] => "ok " + _queue.Flush().ToString(CultureInfo.InvariantCulture),
            ["delete", string id] when QueueId.IsValid(id) => await _queue.DeleteAsync(id).ConfigureAwait(false) ? "ok" : "error: no such message",
            ["delete", _] => "error: not a queue id",
            _ => "error: unknown command",
        };
    }

    internal static async Task<string?> ReadLineAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[MaxCommandBytes];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, ct).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
            int end = buffer.AsSpan(0, length).IndexOf((byte)'\n');
            if (end >= 0)
            {
                return Encoding.UTF8.GetString(buffer, 0, end).TrimEnd('\r');
            }
        }

        return null;
    }
}

/// <summary>The other end of <see cref="QueueControlServer"/>.</summary>
internal static class QueueControlClient
{
    /// <returns>The instance's answer, or null when no instance owns the spool (nobody listening).</returns>
    public static async Task<string?> SendAsync(string directory, string command, CancellationToken ct)
    {
        string path = Path.Combine(Path.GetFullPath(directory), QueueControlServer.SocketName);
        if (!File.Exists(path))
        {
            return null;
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // A socket file without a listener: the instance that made it is gone.
            return null;
        }

        await socket.SendAsync(Encoding.UTF8.GetBytes(command + "\n"), SocketFlags.None, ct).ConfigureAwait(false);
        return await QueueControlServer.ReadLineAsync(socket, ct).ConfigureAwait(false);
    }
}
