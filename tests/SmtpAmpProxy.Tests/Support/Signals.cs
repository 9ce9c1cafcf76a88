using System.Runtime.InteropServices;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>POSIX signals to a process the test started (by its PID), as an orchestrator or an operator sends them.</summary>
internal static class Signals
{
    public const int Kill = 9;
    public const int Term = 15;

    /// <summary>kill(2): 0 when the signal was sent.</summary>
    public static int Send(int pid, int signal) => kill(pid, signal);

#pragma warning disable SYSLIB1054 // a plain int-to-int call needs no marshalling code
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
