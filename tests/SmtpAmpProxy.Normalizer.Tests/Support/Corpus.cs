using System.Text.Json;

namespace SmtpAmpProxy.Normalizer.Tests.Support;

/// <summary>One corpus message with the expectation written beside it (NAME.expected.json).</summary>
internal sealed record CorpusCase(string Name, string EmlPath, string Verdict, string? Code, string[] Actions,
    string[] Warnings, string[][]? Alternatives)
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "corpus", "amp");

    public static IEnumerable<CorpusCase> All() =>
        System.IO.Directory.EnumerateFiles(Directory, "*.eml", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(Load);

    public static CorpusCase Load(string emlPath)
    {
        string expectedPath = Path.ChangeExtension(emlPath, null) + ".expected.json";
        using var json = JsonDocument.Parse(File.ReadAllText(expectedPath));
        var root = json.RootElement;
        string[] Strings(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Select(e => e.GetString()!).ToArray()
            : [];
        string[][]? alternatives = root.TryGetProperty("alternatives", out var alts) && alts.ValueKind == JsonValueKind.Array
            ? alts.EnumerateArray().Select(a => a.EnumerateArray().Select(e => e.GetString()!).ToArray()).ToArray()
            : null;
        return new CorpusCase(
            Path.GetRelativePath(Directory, emlPath),
            emlPath,
            root.GetProperty("verdict").GetString()!,
            root.GetProperty("code").GetString(),
            Strings("actions"),
            Strings("warnings"),
            alternatives);
    }

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in All())
        {
            data.Add(c.Name);
        }

        return data;
    }

    public static CorpusCase Named(string name) => Load(Path.Combine(Directory, name));
}
