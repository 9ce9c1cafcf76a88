namespace SmtpAmpProxy.Queue.Spool;

/// <summary>
/// One thread of its own that takes every request handed in since its last pass and runs them as one batch:
/// the spool's group commits. Blocking flushes run here, never on the thread pool, where fifty waiting
/// flushes would starve the sessions; and each caller waits for one batch at most.
/// </summary>
/// <typeparam name="T">A request; the batch action completes each one.</typeparam>
internal sealed class BatchThread<T> : IDisposable
{
    private readonly Action<List<T>> _run;
    private readonly TimeSpan _lazyDelay;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _pending = new(0);
    private readonly Thread _thread;
    private List<T> _waiting = [];
    private bool _urgent;
    private bool _disposed;

    /// <param name="name">The thread's name, as seen in a debugger or a profile.</param>
    /// <param name="run">Runs one batch; called on this thread only, one batch at a time.</param>
    /// <param name="lazyDelay">How long a request added without a wake-up may wait for the next batch.</param>
    public BatchThread(string name, Action<List<T>> run, TimeSpan lazyDelay)
    {
        _run = run;
        _lazyDelay = lazyDelay;
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Batches run so far.</summary>
    public long Batches { get; private set; }

    /// <param name="wake">
    /// False for a request that may ride along with the next batch, or wait the lazy delay when no other comes,
    /// so that it costs no batch of its own while others are coming.
    /// </param>
    public void Add(T request, bool wake = true)
    {
        bool first;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _waiting.Add(request);
            _urgent |= wake;
            first = _waiting.Count == 1;
        }

        // A request that may wait still wakes the thread when it is the first: the thread then waits the lazy
        // delay for a request that needs its batch now, and runs the batch either way.
        if (wake || first)
        {
            _pending.Release();
        }
    }

    /// <summary>Runs what is waiting, then stops the thread.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _pending.Release();
        _thread.Join();
        _pending.Dispose();
    }

    private void Loop()
    {
        while (true)
        {
            bool stopping;
            lock (_lock)
            {
                stopping = _disposed;
                if (stopping && _waiting.Count == 0)
                {
                    return;
                }
            }

            if (!stopping)
            {
                _pending.Wait();
            }

            bool urgent;
            lock (_lock)
            {
                if (_waiting.Count == 0)
                {
                    continue;
                }

                urgent = _urgent || _disposed;
            }

            if (!urgent)
            {
                // Only requests that may wait: a request that needs its batch now carries them, or the delay ends.
                _pending.Wait(_lazyDelay);
            }

            List<T> batch;
            lock (_lock)
            {
                // Everything handed in before this point (written, renamed) is covered by the batch's flush.
                batch = _waiting;
                _waiting = [];
                _urgent = false;
            }

            Batches++;
            _run(batch);
        }
    }
}
