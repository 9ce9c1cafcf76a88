using SmtpAmpProxy.Queue.Spool;

namespace SmtpAmpProxy.Queue.Tests.Spool;

/// <summary>
/// The spool's batching thread: a request that may wait (a delivered message's mark) still runs when nothing
/// else comes, rides along with one that needs its batch now, and is run by the stop.
/// </summary>
public sealed class BatchThreadTests
{
    // Bounds a wait that must end; a thread that never runs the batch fails the test instead of hanging it.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LazyRequest_NothingElseComes_RunAfterTheDelay()
    {
        using var thread = new BatchThread<TaskCompletionSource>("test", Complete, TimeSpan.FromMilliseconds(20));
        var lazy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        thread.Add(lazy, wake: false);

        await lazy.Task.WaitAsync(Bound, Ct);
        Assert.Equal(1, thread.Batches);
    }

    [Fact]
    public async Task LazyRequests_AfterTheThreadWentIdle_StillRun()
    {
        using var thread = new BatchThread<TaskCompletionSource>("test", Complete, TimeSpan.FromMilliseconds(20));
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        thread.Add(first);
        await first.Task.WaitAsync(Bound, Ct);

        var lazy = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
        lazy.ForEach(r => thread.Add(r, wake: false));

        await Task.WhenAll(lazy.Select(r => r.Task)).WaitAsync(Bound, Ct);
    }

    [Fact]
    public async Task LazyThenUrgent_OneBatchRunsBoth()
    {
        // A delay no test waits for: only the urgent request can end the wait.
        using var thread = new BatchThread<TaskCompletionSource>("test", Complete, TimeSpan.FromHours(1));
        var lazy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var urgent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        thread.Add(lazy, wake: false);
        thread.Add(urgent);

        await Task.WhenAll(lazy.Task, urgent.Task).WaitAsync(Bound, Ct);
        Assert.Equal(1, thread.Batches);
    }

    [Fact]
    public async Task Dispose_LazyRequestWaiting_RunBeforeTheThreadStops()
    {
        var thread = new BatchThread<TaskCompletionSource>("test", Complete, TimeSpan.FromHours(1));
        var lazy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        thread.Add(lazy, wake: false);

        thread.Dispose();

        Assert.True(lazy.Task.IsCompletedSuccessfully);
        Assert.Throws<ObjectDisposedException>(() => thread.Add(new TaskCompletionSource()));
        await lazy.Task;
    }

    private static void Complete(List<TaskCompletionSource> batch) => batch.ForEach(r => r.SetResult());
}
