using Microsoft.Extensions.Time.Testing;

namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>
/// <see cref="FakeTimeProvider"/> that also says which timers are armed, so a test can wait until the
/// server has armed (or re-armed) a deadline before it moves time past it, instead of racing it.
/// </summary>
internal class ServerTestTime : FakeTimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<TrackedTimer> _timers = [];
    private int _armings;

    public ServerTestTime()
        : base(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>Timers that will fire at some virtual time (armed with a finite due time).</summary>
    public int ArmedTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count(t => t.DueAt is not null);
            }
        }
    }

    /// <summary>How many times any timer was set to a finite due time.</summary>
    public int Armings => Volatile.Read(ref _armings);

    /// <summary>Armed timers that were set to fire <paramref name="dueTime"/> after they were armed.</summary>
    public int ArmedFor(TimeSpan dueTime)
    {
        lock (_gate)
        {
            return _timers.Count(t => t.DueAt is not null && t.DueTime == dueTime);
        }
    }

    /// <summary>True when some armed timer is due at or after <paramref name="at"/>: a wait armed afresh.</summary>
    public bool HasTimerDueAtOrAfter(DateTimeOffset at)
    {
        lock (_gate)
        {
            return _timers.Any(t => t.DueAt >= at);
        }
    }

    /// <summary>
    /// Advances in steps until <paramref name="pending"/> completes (at most 20 steps). For waits that
    /// the server may disarm and re-arm at the same virtual time while the test advances.
    /// </summary>
    public async Task<T> AdvanceUntilAsync<T>(Task<T> pending, TimeSpan step)
    {
        for (var i = 0; i < 20 && !pending.IsCompleted; i++)
        {
            Advance(step);
            await Task.WhenAny(pending, Task.Delay(TimeSpan.FromMilliseconds(200), TestContext.Current.CancellationToken));
        }

        return await pending;
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var tracked = new TrackedTimer(this);
        lock (_gate)
        {
            _timers.Add(tracked);
        }

        tracked.Note(dueTime, period);
        tracked.Inner = base.CreateTimer(s => tracked.Fire(callback, s), state, dueTime, period);
        return tracked;
    }

    private sealed class TrackedTimer(ServerTestTime owner) : ITimer
    {
        private TimeSpan _period = Timeout.InfiniteTimeSpan;

        public ITimer Inner { get; set; } = null!;

        public DateTimeOffset? DueAt { get; private set; }

        public TimeSpan DueTime { get; private set; }

        public void Note(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                DueTime = dueTime;
                _period = period;
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner.GetUtcNow() + dueTime;
                if (DueAt is not null)
                {
                    owner._armings++;
                }
            }
        }

        public void Fire(TimerCallback callback, object? state)
        {
            lock (owner._gate)
            {
                DueAt = _period == Timeout.InfiniteTimeSpan || _period == TimeSpan.Zero ? null : owner.GetUtcNow() + _period;
            }

            callback(state);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Note(dueTime, period);
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
            }

            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
