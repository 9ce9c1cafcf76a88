using System.Text.Json;
using System.Text.RegularExpressions;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Deployment;

/// <summary>The Dockerfile's instructions and the YAML files, read the way the tools that use them would.</summary>
internal static partial class DeploymentFiles
{
    private static readonly Lazy<string?> PythonWithYaml = new(() => new[] { Peers.Which("python3"), Peers.DebianPython }
        .FirstOrDefault(p => p is not null && File.Exists(p) && Peers.Run(p, ["-c", "import yaml"], TimeSpan.FromSeconds(30)).ExitCode == 0));

    private static readonly Lazy<IReadOnlyList<JsonElement>> Kubernetes = new(() =>
        [.. LoadYaml(Directory.GetFiles(KubernetesDirectory, "*.yaml").Order(StringComparer.Ordinal)).Values.SelectMany(d => d)]);

    public static string Dockerfile => Path.Combine(RepoPaths.Root, "Dockerfile");

    public static string KubernetesDirectory => Path.Combine(RepoPaths.Root, "deploy", "kubernetes");

    public static string Compose => Path.Combine(RepoPaths.Root, "docker-compose.yml");

    /// <summary>Dockerfile instructions as (stage index, keyword, arguments), continuation lines joined.</summary>
    public static IReadOnlyList<(int Stage, string Keyword, string Arguments)> DockerInstructions()
    {
        var text = File.ReadAllText(Dockerfile).Replace("\\\n", " ", StringComparison.Ordinal);
        var result = new List<(int, string, string)>();
        var stage = -1;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var keyword = (space < 0 ? line : line[..space]).ToUpperInvariant();
            if (keyword == "FROM")
            {
                stage++;
            }

            result.Add((stage, keyword, space < 0 ? "" : line[(space + 1)..].Trim()));
        }

        return result;
    }

    /// <summary>The exec form <c>["a", "b"]</c> of ENTRYPOINT, CMD or HEALTHCHECK … CMD.</summary>
    public static string[] ExecForm(string arguments)
    {
        var start = arguments.IndexOf('[', StringComparison.Ordinal);
        Assert.True(start >= 0, $"not in exec form: {arguments}");
        return JsonSerializer.Deserialize<string[]>(arguments[start..])!;
    }

    /// <summary>
    /// Every YAML document of <paramref name="files"/> as JSON, by file, read with PyYAML's safe loader
    /// (the same YAML 1.1 reading kubectl's parser is compatible with). Skips when PyYAML is missing.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<JsonElement>> LoadYaml(IEnumerable<string> files)
    {
        if (PythonWithYaml.Value is not { } python)
        {
            Assert.Skip("PyYAML is not installed for python3 (apt-get install python3-yaml): the YAML files cannot be parsed");
            return null!;
        }

        const string Script = "import json, sys, yaml\n"
            + "print(json.dumps({f: list(yaml.safe_load_all(open(f, encoding='utf-8'))) for f in sys.argv[1:]}))";
        var paths = files.ToList();
        var result = Peers.Run(python, ["-c", Script, .. paths], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.StdErr);
        var parsed = JsonDocument.Parse(result.StdOut).RootElement;
        return paths.ToDictionary(p => p, p => (IReadOnlyList<JsonElement>)[.. parsed.GetProperty(p).EnumerateArray().Where(d => d.ValueKind != JsonValueKind.Null)]);
    }

    /// <summary>Parsed once per test run: every test reads the same files.</summary>
    public static IReadOnlyList<JsonElement> KubernetesDocuments() => Kubernetes.Value;

    public static JsonElement Kind(IEnumerable<JsonElement> documents, string kind) =>
        Assert.Single(documents, d => d.TryGetProperty("kind", out var k) && k.GetString() == kind);

    public static JsonElement At(this JsonElement element, params string[] path)
    {
        foreach (var name in path)
        {
            Assert.True(element.TryGetProperty(name, out element), $"missing '{name}' in {string.Join('.', path)}");
        }

        return element;
    }

    /// <summary>Anything shaped like a SendGrid API key: SG.&lt;22&gt;.&lt;43&gt;, or SG. followed by key characters.</summary>
    [GeneratedRegex(@"SG\.[A-Za-z0-9_-]{8,}")]
    public static partial Regex SendGridKeyShape();
}
