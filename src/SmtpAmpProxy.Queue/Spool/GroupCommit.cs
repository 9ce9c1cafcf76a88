using Microsoft.Win32.SafeHandles;

namespace SmtpAmpProxy.Queue.Spool;

/// <summary>
/// Group commit for the spool: callers hand in files to fsync (and ask for the queue folder's fsync),
/// one thread of its own runs them batch by batch, and every caller waits only for the batch that holds
/// its request. On a journaling file system the first fsync of a batch commits the journal for all of
/// them, so 50 sessions ending DATA at once cost a few commits, not 150; and the blocking calls run on
/// this thread, never on the thread pool, where 50 waiting fsyncs would starve the sessions.
/// </summary>
internal sealed class GroupCommit : IDisposable
{
    private readonly string _directory;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _pending = new(0);
    private readonly Thread _thread;
    private readonly SafeFileHandle? _fileSystem;
    private List<Request> _waiting = [];
    private bool _disposed;

    public GroupCommit(string directory)
    {
        _directory = directory;
        _fileSystem = Fsync.CanSyncFileSystem ? Fsync.OpenFileSystem(directory) : null;
        _thread = new Thread(Run) { IsBackground = true, Name = "spool fsync" };
        _thread.Start();
    }

    /// <summary>Batches run so far (for the measurement of how much grouping happens).</summary>
    public long Batches { get; private set; }

    /// <summary>Flushes the files' data and metadata to the device.</summary>
    public Task SyncFilesAsync(params SafeFileHandle[] files) => Enqueue(new Request(files, Directory: false));

    /// <summary>Makes the folder's entries (renames, unlinks) durable.</summary>
    public Task SyncDirectoryAsync() => Enqueue(new Request([], Directory: true));

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
        _fileSystem?.Dispose();
    }

    private Task Enqueue(Request request)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _waiting.Add(request);
        }

        _pending.Release();
        return request.Done.Task;
    }

    private void Run()
    {
        while (true)
        {
            _pending.Wait();
            List<Request> batch;
            lock (_lock)
            {
                if (_waiting.Count == 0)
                {
                    if (_disposed)
                    {
                        return;
                    }

                    continue;
                }

                // Everybody waiting now wrote or renamed before this point, so the syncs below cover them all.
                batch = _waiting;
                _waiting = [];
            }

            Batches++;
            int files = batch.Sum(r => r.Files.Length);
            if (files > 1 && _fileSystem is not null)
            {
                // One syncfs(2) for the batch: the device's cache is flushed once for every file, rename and
                // unlink in it, where an fsync per file pays that flush each time (on this project's 2-core
                // machine 50 files took 5.5 ms so against 28 ms; bench/relay.sh "queue").
                Complete(batch, _fileSystem);
                continue;
            }

            Exception? directoryFailure = null;
            if (batch.Any(r => r.Directory))
            {
                try
                {
                    Fsync.Directory(_directory);
                }
                catch (IOException e)
                {
                    directoryFailure = e;
                }
            }

            foreach (Request request in batch)
            {
                try
                {
                    foreach (SafeFileHandle file in request.Files)
                    {
                        Fsync.File(file);
                    }

                    if (request.Directory && directoryFailure is not null)
                    {
                        throw directoryFailure;
                    }

                    request.Done.SetResult();
                }
                catch (Exception e)
                {
                    request.Done.SetException(e);
                }
            }
        }
    }

    private static void Complete(List<Request> batch, SafeFileHandle fileSystem)
    {
        Exception? failure = null;
        try
        {
            Fsync.FileSystem(fileSystem);
        }
        catch (IOException e)
        {
            failure = e;
        }

        foreach (Request request in batch)
        {
            if (failure is null)
            {
                request.Done.SetResult();
            }
            else
            {
                request.Done.SetException(failure);
            }
        }
    }

    private sealed record Request(SafeFileHandle[] Files, bool Directory)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
