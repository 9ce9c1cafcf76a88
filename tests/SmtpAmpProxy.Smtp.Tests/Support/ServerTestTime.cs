namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>Virtual time: timers fire only when the test calls <see cref="Advance"/>.</summary>
internal sealed class ServerTestTime : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<Timer> _timers = [];
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
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
        var timer = new Timer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        List<Timer> due;
        lock (_gate)
        {
            _now += by;
            due = [.. _timers.Where(t => t.DueAt <= _now)];
            foreach (var timer in due)
            {
                timer.DueAt = null;
            }
        }

        foreach (var timer in due)
        {
            timer.Fire();
        }
    }

    private sealed class Timer(ServerTestTime owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? DueAt { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner._now + dueTime;
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
