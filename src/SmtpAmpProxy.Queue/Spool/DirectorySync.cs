namespace SmtpAmpProxy.Queue.Spool;

/// <summary>
/// Group commit of one directory's entries: every caller waits for an fsync of the directory that
/// started after its own rename, but concurrent callers share one. With 50 sessions ending DATA at
/// once, the disk sees a few directory syncs instead of 50.
/// </summary>
internal sealed class DirectorySync(string path)
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _waiting;
    private bool _running;

    public Task SyncAsync()
    {
        lock (_lock)
        {
            if (_waiting is null)
            {
                _waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (!_running)
                {
                    _running = true;
                    _ = Task.Run(Run);
                }
            }

            return _waiting.Task;
        }
    }

    private void Run()
    {
        while (true)
        {
            TaskCompletionSource batch;
            lock (_lock)
            {
                if (_waiting is null)
                {
                    _running = false;
                    return;
                }

                // Everybody waiting now renamed before this point, so the sync below covers them all;
                // whoever asks from now on waits for the next one.
                batch = _waiting;
                _waiting = null;
            }

            try
            {
                Fsync.Directory(path);
                batch.SetResult();
            }
            catch (Exception e)
            {
                batch.SetException(e);
            }
        }
    }
}
