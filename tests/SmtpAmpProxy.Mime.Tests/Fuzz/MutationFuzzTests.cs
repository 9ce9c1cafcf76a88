using System.Text;
using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Tests.Support;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Mime.Tests.Fuzz;

/// <summary>
/// Seeded mutations of the corpus: truncation, byte flips, inserted, deleted and damaged delimiter lines, stray
/// CR/LF, NULs. Whatever the input: no exception, the tree tiles the input exactly (identity round trip), and a
/// random reorder/drop re-reads with every kept child byte for byte.
/// </summary>
public sealed class MutationFuzzTests
{
    // Fixed so a failure reproduces; MIME_FUZZ_SEED and MIME_FUZZ_CASES explore further by hand.
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("MIME_FUZZ_SEED"), out var s) ? s : 20240601;
    private static readonly int Cases = int.TryParse(Environment.GetEnvironmentVariable("MIME_FUZZ_CASES"), out var c) ? c : 3000;

    private static readonly string[] Padding = ["", " ", "\t", "  \t"];
    private static readonly string[] Newlines = ["\r\n", "\n", ""];

    [Fact]
    public void ParseAndWrite_MutatedCorpus_NeverThrowsAndRoundTrips()
    {
        var random = new Random(Seed);
        var pool = Support.Corpus.Files().Select(Support.Corpus.Read).Where(b => b.Length < 64 * 1024).ToArray();
        var failures = new List<string>();
        var rewritten = 0;
        for (var n = 0; n < Cases && failures.Count < 5; n++)
        {
            var input = pool[random.Next(pool.Length)];
            var mutations = new List<string>();
            for (var m = random.Next(1, 4); m > 0; m--)
            {
                input = Mutate(input, random, mutations);
            }

            try
            {
                if (Check(input, random, n) is { } problem)
                {
                    failures.Add($"case {n} ({string.Join(", ", mutations)}): {problem}\n{Escape(input)}");
                }
                else
                {
                    rewritten++;
                }
            }
            catch (Exception e)
            {
                failures.Add($"case {n} ({string.Join(", ", mutations)}): {e}\n{Escape(input)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        Assert.Equal(Cases, rewritten);
    }

    private static string? Check(byte[] input, Random random, int n)
    {
        MimeLimits limits = n % 4 == 0
            ? new() { MaxDepth = random.Next(0, 4), MaxParts = random.Next(1, 12), MaxHeaderBlockBytes = random.Next(0, 400) }
            : MimeTest.Limits;
        var parsed = MimeParser.Parse(input, limits);
        var walked = SegmentBuilder.Build(input, parsed.Root, new MimeRewrite());
        if (walked.Count != (input.Length == 0 ? 0 : 1) || MimeTest.FirstDifference(input, MimeTest.Concat(walked)) is { Length: > 0 } d)
        {
            return $"tree does not tile the input ({walked.Count} segments)";
        }

        if (!MimeTest.Rewrite(input, parsed, new MimeRewrite()).AsSpan().SequenceEqual(input))
        {
            return "writer output differs from input";
        }

        var multiparts = RewriteCheck.Multiparts(parsed.Root).ToList();
        if (multiparts.Count == 0)
        {
            return null;
        }

        var target = multiparts[random.Next(multiparts.Count)];
        var order = Enumerable.Range(0, target.Children.Count).OrderBy(_ => random.Next()).Take(random.Next(1, target.Children.Count + 1)).ToArray();
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(target, order);
        var output = MimeTest.Rewrite(input, parsed, rewrite);
        _ = MimeParser.Parse(output, limits);

        // With default limits the rewritten multipart must re-read with the chosen children, byte for byte.
        // Not so when a nested multipart reuses an enclosing boundary (RFC 2046 §5.1.2 forbids it): a close
        // delimiter written for the outer one is then also the inner one's. Nor when the input stops right after
        // a nested delimiter line: the line end that must now follow it becomes that line's own.
        return parsed.Status == MimeParseStatus.Ok && limits == MimeTest.Limits
            && !ReusesEnclosingBoundary(parsed.Root, []) && !EndsInUnterminatedDelimiter(parsed.Root, input)
            ? RewriteCheck.Verify(input, target.Path, order)
            : null;
    }

    private static bool EndsInUnterminatedDelimiter(MimeEntity root, byte[] input)
    {
        var last = root;
        while (last.Children.Count > 0)
        {
            last = last.Children[^1];
        }

        return last != root && last.Length == 0 && last.Offset == input.Length && input[^1] != (byte)'\n';
    }

    private static bool ReusesEnclosingBoundary(MimeEntity e, List<byte[]> enclosing)
    {
        if (!e.IsMultipart)
        {
            return false;
        }

        if (enclosing.Any(b => e.BoundaryBytes!.AsSpan().StartsWith(b)))
        {
            return true;
        }

        enclosing.Add(e.BoundaryBytes!);
        var result = e.Children.Any(c => ReusesEnclosingBoundary(c, enclosing));
        enclosing.RemoveAt(enclosing.Count - 1);
        return result;
    }

    private static byte[] Mutate(byte[] input, Random random, List<string> log)
    {
        var bytes = new List<byte>(input);
        var kind = random.Next(10);
        switch (kind)
        {
            case 0:
                var cut = random.Next(bytes.Count + 1);
                bytes.RemoveRange(cut, bytes.Count - cut);
                log.Add($"truncate@{cut}");
                break;
            case 1:
                for (var i = random.Next(1, 9); i > 0 && bytes.Count > 0; i--)
                {
                    var at = random.Next(bytes.Count);
                    bytes[at] = (byte)random.Next(256);
                    log.Add($"flip@{at}");
                }

                break;
            case 2:
                var boundary = Boundaries(input).DefaultIfEmpty("x").ElementAt(0);
                var all = Boundaries(input).ToList();
                if (all.Count > 0)
                {
                    boundary = all[random.Next(all.Count)];
                }

                var line = "--" + boundary + (random.Next(3) == 0 ? "--" : "") + Padding[random.Next(Padding.Length)] + Newlines[random.Next(Newlines.Length)];
                var lineAt = LineStart(bytes, random);
                bytes.InsertRange(lineAt, Encoding.Latin1.GetBytes(line));
                log.Add($"insert-delimiter@{lineAt}");
                break;
            case 3:
                var starts = DelimiterLikeLines(bytes);
                if (starts.Count > 0)
                {
                    var s = starts[random.Next(starts.Count)];
                    var e = bytes.IndexOf((byte)'\n', s);
                    bytes.RemoveRange(s, (e < 0 ? bytes.Count : e + 1) - s);
                    log.Add($"delete-delimiter@{s}");
                }

                break;
            case 4:
                var lines = DelimiterLikeLines(bytes);
                if (lines.Count > 0)
                {
                    var s = lines[random.Next(lines.Count)] + random.Next(0, 6);
                    if (s < bytes.Count)
                    {
                        bytes[s] = (byte)"-x \r\n\0"[random.Next(6)];
                        log.Add($"damage-delimiter@{s}");
                    }
                }

                break;
            case 5:
                for (var i = random.Next(1, 6); i > 0; i--)
                {
                    var at = random.Next(bytes.Count + 1);
                    if (random.Next(3) == 0 && at < bytes.Count)
                    {
                        bytes.RemoveAt(at);
                        log.Add($"delete-byte@{at}");
                    }
                    else
                    {
                        bytes.InsertRange(at, Encoding.Latin1.GetBytes(Newlines[random.Next(2)][random.Next(1)..]));
                        log.Add($"newline@{at}");
                    }
                }

                break;
            case 6:
                var nulAt = random.Next(bytes.Count + 1);
                bytes.InsertRange(nulAt, new byte[random.Next(1, 4)]);
                log.Add($"nul@{nulAt}");
                break;
            case 7:
                if (bytes.Count > 0)
                {
                    var from = random.Next(bytes.Count);
                    var length = random.Next(1, Math.Min(200, bytes.Count - from) + 1);
                    var to = random.Next(bytes.Count + 1);
                    bytes.InsertRange(to, bytes.GetRange(from, length));
                    log.Add($"duplicate {from}+{length}@{to}");
                }

                break;
            case 8:
                var text = Encoding.Latin1.GetString([.. bytes]).Replace("\r\n", "\n", StringComparison.Ordinal);
                bytes = [.. Encoding.Latin1.GetBytes(text)];
                log.Add("lf-only");
                break;
            default:
                var blank = Encoding.Latin1.GetString([.. bytes]).IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (blank >= 0)
                {
                    bytes.RemoveRange(blank, 2);
                    log.Add($"remove-blank-line@{blank}");
                }

                break;
        }

        return [.. bytes];
    }

    private static IEnumerable<string> Boundaries(byte[] input) =>
        RewriteCheck.Multiparts(MimeParser.Parse(input, MimeTest.Limits).Root).Select(m => Encoding.Latin1.GetString(m.BoundaryBytes!));

    private static int LineStart(List<byte> bytes, Random random)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < bytes.Count; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                starts.Add(i + 1);
            }
        }

        return starts[random.Next(starts.Count)];
    }

    private static List<int> DelimiterLikeLines(List<byte> bytes)
    {
        var result = new List<int>();
        for (var i = 0; i + 1 < bytes.Count; i++)
        {
            if ((i == 0 || bytes[i - 1] == (byte)'\n') && bytes[i] == (byte)'-' && bytes[i + 1] == (byte)'-')
            {
                result.Add(i);
            }
        }

        return result;
    }

    private static string Escape(byte[] input)
    {
        var text = Encoding.Latin1.GetString(input.AsSpan(0, Math.Min(input.Length, 1500)));
        return text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n\n", StringComparison.Ordinal).Replace("\0", "\\0", StringComparison.Ordinal);
    }
}
