using SmtpAmpProxy.Queue.Tests.Spool;

// The runtime looks for the hook type by this exact name, outside any namespace.
#pragma warning disable CA1050
/// <summary>
/// The crash test's child: this test assembly named in DOTNET_STARTUP_HOOKS runs the spool writer before
/// the test runner's Main would start, and never returns to it. (A module initializer cannot: writers on
/// other threads would wait for it to finish.)
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable(SpoolCrashTests.ChildVariable) is { } directory)
        {
            SpoolCrashTests.RunWriter(directory);
            Environment.Exit(0);
        }
    }
}
#pragma warning restore CA1050
