using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>The proxy's JSON log on stdout, read in the background so any event can be waited for.</summary>
internal sealed class ProxyLogLines
{
    private readonly ConcurrentQueue<JsonElement> _lines = new();
    private readonly Task _reader;

    // Released for every line read and once at the end of the output, so a wait wakes only when there is news.
    private readonly SemaphoreSlim _arrived = new(0);

    private ProxyLogLines(Process process)
    {
        _reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith('{'))
                {
                    using var json = JsonDocument.Parse(line);
                    _lines.Enqueue(json.RootElement.Clone());
                    _arrived.Release();
                }
            }

            _arrived.Release();
        });
        Process = process;
    }

    public Process Process { get; }

    public static ProxyLogLines Follow(Process process) => new(process);

    public async Task<JsonElement> EventAsync(int eventId)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            // Read before the scan: a reader that finished then has no line the scan did not see.
            var finished = _reader.IsCompleted;
            foreach (var line in _lines)
            {
                if (line.GetProperty("EventId").GetInt32() == eventId)
                {
                    return line;
                }
            }

            if (finished)
            {
                throw new InvalidOperationException($"no event {eventId} in the proxy's log; stderr: " + await Process.StandardError.ReadToEndAsync());
            }

            await _arrived.WaitAsync(timeout.Token);
        }
    }

    /// <summary>Waits until <paramref name="count"/> lines of an event were logged; the output ending first fails.</summary>
    public async Task EventsAsync(int eventId, int count)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            var finished = _reader.IsCompleted;
            if (_lines.Count(line => line.GetProperty("EventId").GetInt32() == eventId) >= count)
            {
                return;
            }

            if (finished)
            {
                throw new InvalidOperationException($"the proxy's log ended before {count} events {eventId}");
            }

            await _arrived.WaitAsync(timeout.Token);
        }
    }

    /// <summary>The SMTP listener's bound endpoint (event 3000).</summary>
    public async Task<IPEndPoint> ListeningAsync() =>
        IPEndPoint.Parse((await EventAsync(3000)).GetProperty("State").GetProperty("EndPoint").GetString()!);

    /// <summary>The operations port's bound host:port (event 3200).</summary>
    public async Task<string> HttpListeningAsync() =>
        new Uri((await EventAsync(3200)).GetProperty("State").GetProperty("Url").GetString()!).Authority;
}
