using System.Text.RegularExpressions;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Architecture;

/// <summary>
/// The wire path is the project's own: the libraries that check it in the tests and the benchmark
/// (MimeKit, MailKit, SmtpServer, AngleSharp, CsCheck) are never a dependency of anything in src/.
/// </summary>
public sealed partial class OracleDependencyTests
{
    private static readonly string[] Oracles = ["MimeKit", "MailKit", "SmtpServer", "AngleSharp", "CsCheck", "FsCheck"];

    [Fact]
    public void SourceProjects_ReferenceNoOracleLibrary()
    {
        var projects = Directory.GetFiles(Path.Combine(RepoPaths.Root, "src"), "*.csproj", SearchOption.AllDirectories);

        var references = projects
            .SelectMany(p => PackageReference().Matches(File.ReadAllText(p)).Select(m => (Project: Path.GetFileName(p), Package: m.Groups[1].Value)))
            .Where(r => Oracles.Any(o => r.Package.StartsWith(o, StringComparison.OrdinalIgnoreCase)))
            .ToList();

        Assert.True(projects.Length >= 4, $"only {projects.Length} projects under src/");
        Assert.Empty(references);
    }

    [Fact]
    public void SourceFiles_ImportNoOracleNamespace()
    {
        var files = Directory.GetFiles(Path.Combine(RepoPaths.Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

        var imports = files
            .SelectMany(f => File.ReadLines(f).Where(l => Oracles.Any(o => l.TrimStart().StartsWith($"using {o}", StringComparison.Ordinal))).Select(l => $"{f}: {l.Trim()}"))
            .ToList();

        Assert.Empty(imports);
    }

    [GeneratedRegex("<PackageReference\\s+Include=\"([^\"]+)\"")]
    private static partial Regex PackageReference();
}
