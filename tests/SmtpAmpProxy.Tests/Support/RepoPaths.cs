namespace SmtpAmpProxy.Tests.Support;

internal static class RepoPaths
{
    /// <summary>The folder holding SmtpAmpProxy.sln, found by walking up from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    public static string Corpus(params string[] parts) => Path.Combine([Root, "tests", "corpus", .. parts]);

    public static string Peer(string script) => Path.Combine(AppContext.BaseDirectory, "Peers", script);

    private static string FindRoot()
    {
        // Builds with --artifacts-path put the binaries outside the repository: the build records where it is.
        var recorded = typeof(RepoPaths).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "RepositoryRoot")?.Value;
        if (recorded is not null && File.Exists(Path.Combine(recorded, "SmtpAmpProxy.sln")))
        {
            return Path.GetFullPath(recorded);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SmtpAmpProxy.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SmtpAmpProxy.sln not found above " + AppContext.BaseDirectory);
    }
}
