using System.Reflection;

namespace SmtpAmpProxy.Mime.Tests.Support;

internal static class Corpus
{
    private static readonly Lazy<string> Root = new(FindRoot);

    public static string Directory => Root.Value;

    /// <summary>Corpus files as paths relative to the corpus root ("hand/empty.eml"), sorted.</summary>
    public static IReadOnlyList<string> Files() =>
        System.IO.Directory.GetFiles(Directory, "*.eml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Directory, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var f in Files())
        {
            data.Add(f);
        }

        return data;
    }

    public static byte[] Read(string relative) => File.ReadAllBytes(Path.Combine(Directory, relative));

    private static string FindRoot()
    {
        var fromBuild = typeof(Corpus).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "MimeCorpusDirectory")?.Value;
        if (fromBuild is not null && System.IO.Directory.Exists(fromBuild))
        {
            return fromBuild;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SmtpAmpProxy.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "corpus", "mime");
            }
        }

        throw new DirectoryNotFoundException("tests/corpus/mime not found");
    }
}
