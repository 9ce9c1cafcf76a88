using System.Text.Json;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Support;

/// <summary>The AMP4EMAIL documents of tests/corpus/amp/documents and messages built around them.</summary>
internal static class AmpDocuments
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "corpus", "amp", "documents");

    public static TheoryData<string> Valid() => Names("valid");

    public static TheoryData<string> Broken() => Names("broken");

    public static string Read(string folder, string name) => File.ReadAllText(Path.Combine(Directory, folder, name));

    /// <summary>The codes the checks must report for a broken document, and text its first finding mentions.</summary>
    public static (string[] Codes, string Mentions) Expected(string name)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "broken", "expected.json")));
        var entry = json.RootElement.GetProperty(name);
        return (entry.GetProperty("codes").EnumerateArray().Select(c => c.GetString()!).ToArray(),
            entry.GetProperty("mentions").GetString()!);
    }

    /// <summary>A compliant alternative (plain, AMP, HTML) whose AMP part is <paramref name="ampPart"/>.</summary>
    public static byte[] InAlternative(Leaf ampPart) => Message(Alt(Plain(), ampPart, Html()));

    public static byte[] InAlternative(string document) => InAlternative(AmpDocument(document));

    private static TheoryData<string> Names(string folder)
    {
        var data = new TheoryData<string>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Path.Combine(Directory, folder), "*.html").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(path));
        }

        return data;
    }
}
