using CsCheck;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Tests.Support;

namespace SmtpAmpProxy.Mime.Tests.Oracles;

/// <summary>
/// MimeKit as a second reader of every message we parse: the corpus, generated well-formed trees and
/// mutated ones. Tree shape, media types, boundaries and each part's content bytes must agree, apart
/// from the named differences in <see cref="IntendedDifference"/> (README, "Intended differences from
/// MimeKit"). A failing sample is shrunk by CsCheck and reported with its seed; setting the
/// environment variable CsCheck_Seed to that seed replays it.
/// </summary>
public sealed class MimeKitDifferentialTests
{
    // Enough for every generator branch to come up many times, small enough for a few seconds in CI.
    private const int GeneratedCount = 1500;
    private const int MutatedCount = 2500;

    public static TheoryData<string> IntendedDifferenceNames() => new(IntendedDifference.All.Select(d => d.Name));

    [Fact]
    public void Corpus_EveryMessage_MimeKitReadsTheSameTreeOrANamedDifference()
    {
        var root = Path.GetDirectoryName(Support.Corpus.Directory)!;
        var files = Directory.GetFiles(root, "*.eml", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        var failures = files
            .Select(f => Unexplained(File.ReadAllBytes(f)) is { } problem ? $"{Path.GetRelativePath(root, f)}: {problem}" : null)
            .OfType<string>()
            .ToList();

        Assert.True(files.Count >= 60, $"only {files.Count} corpus messages under {root}");
        Assert.True(failures.Count == 0, "new differences from MimeKit:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void Generated_WellFormedMessages_MimeKitReadsTheSameTree()
    {
        // No excuses here: every named difference needs malformed input, and these messages are well formed.
        MimeGenerators.Message(depth: 3).SampleRepeatable(message =>
        {
            var differences = ReadTree.Differences(ReadTree.Ours(message), ReadTree.MimeKit(message));
            Assert.True(differences.Count == 0, string.Join("; ", differences));
        }, iter: GeneratedCount, print: m => MimeTest.Text(m));
    }

    [Fact]
    public void Mutated_Messages_EveryDifferenceFromMimeKitIsNamed()
    {
        MimeGenerators.Mutated(depth: 2).SampleRepeatable(message =>
        {
            var problem = Unexplained(message);
            Assert.True(problem is null, problem);
        }, iter: MutatedCount, print: m => MimeTest.Text(m));
    }

    [Theory]
    [MemberData(nameof(IntendedDifferenceNames))]
    public void IntendedDifference_ItsExample_DiffersFromMimeKitAndIsExcusedByThatName(string name)
    {
        var entry = IntendedDifference.All.Single(d => d.Name == name);
        var example = MimeTest.Bytes(entry.Example);
        var parsed = MimeParser.Parse(example, MimeTest.Limits);

        var differences = ReadTree.Differences(ReadTree.FromOurs(parsed.Root), ReadTree.MimeKit(example));

        Assert.NotEmpty(differences);
        Assert.All(differences, d => Assert.Contains(entry, IntendedDifference.Excusing(parsed.Root, d)));
    }

    [Fact]
    public void Readme_IntendedDifferencesSection_NamesEveryEntry()
    {
        var readme = File.ReadAllText(Path.Combine(Support.Corpus.Directory, "..", "..", "..", "README.md"));
        var start = readme.IndexOf("## Intended differences from MimeKit", StringComparison.Ordinal);
        Assert.True(start >= 0, "README has no section \"Intended differences from MimeKit\"");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? readme[start..] : readme[start..end];

        Assert.All(IntendedDifference.All, d => Assert.Contains($"`{d.Name}`", section, StringComparison.Ordinal));
    }

    /// <summary>The differences no named entry excuses, as text, or null when there are none.</summary>
    private static string? Unexplained(byte[] message)
    {
        var parsed = MimeParser.Parse(message, MimeTest.Limits);
        var unexplained = ReadTree.Differences(ReadTree.FromOurs(parsed.Root), ReadTree.MimeKit(message))
            .Where(d => IntendedDifference.Excusing(parsed.Root, d).Count == 0)
            .ToList();
        return unexplained.Count == 0 ? null : string.Join("; ", unexplained);
    }
}
