using System.Text.Json.Nodes;
using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Tests.Support;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Mime.Tests.Writing;

/// <summary>
/// Interop oracle: Python's email package reads each corpus message and each rewrite of it; the rewritten
/// multipart must hold the same children, in the new order, with identical decoded payloads, and nothing else
/// may change.
/// </summary>
public sealed class PythonOracleTests
{
    // Malformed inputs that the RFC leaves open and Python reads differently from us (so the oracle cannot
    // speak for them); the byte-level rewrite checks in RewriteTests still cover them.
    private static readonly Dictionary<string, string> Divergent = new(StringComparer.Ordinal)
    {
        ["hand/empty-parts.eml"] = "Python folds consecutive delimiter lines into one; RFC 2046 reads an empty part between them",
        ["hand/same-boundary-nested.eml"] = "Python lets the outer multipart claim a boundary both levels declare; we give the inner one precedence",
        ["hand/comments-and-folding.eml"] = "Python's compat32 reader does not skip RFC 5322 comments inside Content-Type",
        ["hand/hostile-parameter-bomb.eml"] = "150 parameters cross MaxParametersPerField: we stop there (and the message is refused); Python reads them all",
    };

    [Fact]
    public void Rewrite_CorpusMultiparts_PythonSeesSameChildrenInNewOrder()
    {
        var dir = Directory.CreateTempSubdirectory("mime-oracle-");
        try
        {
            var cases = new List<(string File, string Path, int[] Order, string Original, string Output)>();
            var originals = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in Support.Corpus.Files())
            {
                var source = Support.Corpus.Read(file);
                var parsed = MimeTest.Parse(source);
                var multiparts = RewriteCheck.Multiparts(parsed.Root).Where(m => m.Children.Count > 1).ToList();
                if (multiparts.Count == 0 || Divergent.ContainsKey(file))
                {
                    continue;
                }

                var original = Path.Combine(dir.FullName, $"{originals.Count}.eml");
                File.WriteAllBytes(original, source);
                originals[file] = original;
                foreach (var multipart in multiparts)
                {
                    var n = multipart.Children.Count;
                    int[][] orders = [Enumerable.Range(0, n).Reverse().ToArray(), Enumerable.Range(1, n - 1).ToArray()];
                    foreach (var order in orders)
                    {
                        var rewrite = new MimeRewrite();
                        rewrite.SetChildOrder(multipart, order);
                        var output = Path.Combine(dir.FullName, $"{originals.Count - 1}-{cases.Count}.eml");
                        File.WriteAllBytes(output, MimeTest.Rewrite(source, parsed, rewrite));
                        cases.Add((file, multipart.Path, order, original, output));
                    }
                }
            }

            var files = originals.Values.Concat(cases.Select(c => c.Output)).ToList();
            var trees = PythonEmail.Read(files, out var unavailable);
            if (trees is null)
            {
                Assert.Skip(unavailable!);
            }

            var byFile = files.Select((f, i) => (f, i)).ToDictionary(x => x.f, x => trees[x.i]);
            var failures = new List<string>();
            foreach (var (file, path, order, original, output) in cases)
            {
                var before = byFile[original];
                var ours = RewriteCheck.At(MimeTest.Parse(Support.Corpus.Read(file)).Root, path)!;
                var theirs = PythonEmail.At(before, path)?["children"]?.AsArray();
                if (theirs is null || theirs.Count != ours.Children.Count)
                {
                    failures.Add($"{file} {path}: Python reads the original differently ({theirs?.Count} children, we read {ours.Children.Count})");
                    continue;
                }

                var expected = before.DeepClone();
                var target = PythonEmail.At(expected, path)!;
                target["children"] = new JsonArray(order.Select(i => theirs[i]!.DeepClone()).ToArray());
                var actual = byFile[output];
                if (!JsonNode.DeepEquals(expected, actual))
                {
                    failures.Add($"{file} {path} order [{string.Join(",", order)}]:\n  expected {expected.ToJsonString()}\n  actual   {actual.ToJsonString()}");
                }
            }

            Assert.True(cases.Count > 40, $"only {cases.Count} rewrite cases");
            Assert.True(failures.Count == 0, string.Join("\n", failures));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Parse_CorpusMessages_SameTreeShapeAsPython()
    {
        var files = Support.Corpus.Files().Where(f => !Divergent.ContainsKey(f)).ToList();
        var trees = PythonEmail.Read(files.Select(f => Path.Combine(Support.Corpus.Directory, f)).ToList(), out var unavailable);
        if (trees is null)
        {
            Assert.Skip(unavailable!);
        }

        var failures = new List<string>();
        for (var i = 0; i < files.Count; i++)
        {
            var ours = Shape(MimeTest.Parse(Support.Corpus.Read(files[i])).Root);
            var theirs = Shape(trees[i]);
            if (ours != theirs)
            {
                failures.Add($"{files[i]}:\n  ours   {ours}\n  python {theirs}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string Shape(MimeEntity e) =>
        e.Children.Count == 0 ? e.ContentType.MimeType : $"{e.ContentType.MimeType}({string.Join(",", e.Children.Select(Shape))})";

    private static string Shape(JsonNode n) =>
        n["children"] is JsonArray children
            ? $"{n["type"]}({string.Join(",", children.Select(c => Shape(c!)))})"
            : n["type"]!.ToString();
}
