namespace SmtpAmpProxy.Hosting;

/// <summary>
/// Chooses where socket continuations run before the first socket exists. The runtime reads
/// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> once, when its socket engine starts, and with "1"
/// runs continuations on its event threads (one per core) instead of queueing each to the thread pool.
/// For this proxy every step of a session is a few microseconds of work between two waits on the network,
/// so the queueing was the larger cost: on the 2-core relay benchmark, 165 → 104 µs of proxy CPU per
/// message at 50 sessions. The price: work that can take milliseconds must leave the event thread, which
/// the relay does for spilled messages, signing and quarantine writes, and AUTH for its password hash.
/// </summary>
internal static class SocketCompletions
{
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>An operator who set the runtime's own variable gets what they set; otherwise the option decides.</summary>
    public static bool Decide(bool configured, string? environmentValue) =>
        environmentValue is null ? configured : environmentValue == "1";

    /// <summary>Call before anything opens a socket; an operator's own setting of the variable is left as it is.</summary>
    public static void Apply(bool configured)
    {
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            Environment.SetEnvironmentVariable(Variable, configured ? "1" : "0");
        }
    }

    /// <summary>What the runtime's socket engine will use (or uses), for the start log.</summary>
    public static bool IsInline => Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>
    /// Inline, the caller may be on a socket event thread, which also serves every other session whose sockets
    /// it watches: work that can take milliseconds (a password hash, RSA signing, disk I/O) awaits this first.
    /// On a pool thread already, it does nothing. (Linux: the event threads are not pool threads.)
    /// </summary>
    public static async ValueTask LeaveEventThreadAsync()
    {
        if (MustLeave(Thread.CurrentThread))
        {
            await Task.Yield();
        }
    }

    /// <summary>Every thread but a pool thread: the socket event threads, and any thread of someone else's.</summary>
    public static bool MustLeave(Thread thread) => !thread.IsThreadPoolThread;
}
