namespace SmtpAmpProxy.Tests.Support;

/// <summary>
/// Waits for state that changes with no event to wait on: files another process writes, a peer's message
/// count, the pool's counts after a session it does not own ends. Checked on a periodic timer within a
/// bound, and the message says what was awaited. Where an event exists (a log line, a reply), wait on it.
/// </summary>
internal static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    public static async Task UntilAsync(Func<bool> condition, Func<string> what, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(60));
        using var timer = new PeriodicTimer(Interval);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting until " + what());
            await timer.WaitForNextTickAsync(TestContext.Current.CancellationToken);
        }
    }
}
