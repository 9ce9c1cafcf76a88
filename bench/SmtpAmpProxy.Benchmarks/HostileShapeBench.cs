using System.Diagnostics;
using System.Globalization;
using System.Text;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Tests.Hostile;
using SmtpAmpProxy.Normalizer;
using SmtpAmpProxy.Normalizer.Tests.Hostile;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>
/// Time per input byte of the hostile shapes the linearity tests use, next to ordinary AMP mail of about the same
/// size, in one run, as ratios. A plain stopwatch harness: each case runs until at least 150 ms have passed, five
/// rounds, and the median round counts.
/// <code>dotnet run -c Release --project bench/SmtpAmpProxy.Benchmarks -- hostile [n]</code>
/// </summary>
internal static class HostileShapeBench
{
    private static readonly AmpOptions Options = new();
    private static readonly MimeLimits Defaults = new();

    public static void Run(string[] args)
    {
        var n = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        Console.WriteLine($"hostile shapes at n = {n}; ratio = ns per byte / ns per byte of ordinary AMP mail of similar size");
        Console.WriteLine();

        var parameterBomb = HostileShapes.ParameterBomb(n);
        var ordinary = OrdinaryAmp(parameterBomb.Length);
        var baseline = NsPerByte(ordinary, m => AmpNormalizer.Normalize(m, Defaults, Options));
        Console.WriteLine($"{"case",-58} {"bytes",10} {"ns/byte",9} {"ratio",7}");
        Report("ordinary AMP mail (normalize, default limits)", ordinary.Length, baseline, baseline);

        Report("parameter bomb (normalize, default limits: refused)", parameterBomb.Length,
            NsPerByte(parameterBomb, m => AmpNormalizer.Normalize(m, Defaults, Options)), baseline);
        foreach (var (name, build, limits) in HostileShapes.All)
        {
            var message = build(n);
            Report($"{name} (parse, limits lifted)", message.Length, NsPerByte(message, m => MimeParser.Parse(m, limits)), baseline);
        }

        Console.WriteLine();
        var ordinaryDocument = AmpDocumentOf(ordinary);
        var documentBaseline = NsPerByte(ordinaryDocument, d => AmpMarkupScanner.Scan(d.Span));
        Report("ordinary AMP document (markup scan)", ordinaryDocument.Length, documentBaseline, documentBaseline);
        foreach (var (name, build) in HostileDocuments.All)
        {
            var document = Encoding.UTF8.GetBytes(build(n));
            Report($"{name} (markup scan)", document.Length, NsPerByte(document, d => AmpMarkupScanner.Scan(d.Span)), documentBaseline);
        }

        Console.WriteLine();
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var key = new DkimKey("example.com", "s", rsa);
        var time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        var dkimBaseline = NsPerByte(ordinary, m => DkimSigner.Sign([m], key, time));
        Report("ordinary AMP mail (DKIM sign)", ordinary.Length, dkimBaseline, dkimBaseline);
        var manyFields = Dkim(Repeat(n, i => $"To: r{i}@example.org\r\n"), "body\r\n");
        Report("many header fields (DKIM sign)", manyFields.Length, NsPerByte(manyFields, m => DkimSigner.Sign([m], key, time)), dkimBaseline);
        var spaces = Dkim("Subject: a" + Repeat(n, _ => " \t  \t") + "b\r\n", "a" + Repeat(n, _ => " \t \t ") + "b\r\n");
        Report("white-space runs in header and body (DKIM sign)", spaces.Length, NsPerByte(spaces, m => DkimSigner.Sign([m], key, time)), dkimBaseline);
        var signatures = Dkim(Repeat(n, i => $"DKIM-Signature: v=1; d=d{i}.example; s=s; b=x\r\n"), "body\r\n");
        var pieces = Enumerable.Range(0, (signatures.Length + 63) / 64)
            .Select(i => (ReadOnlyMemory<byte>)signatures.AsMemory(i * 64, Math.Min(64, signatures.Length - (i * 64)))).ToList();
        Report("many signatures over 64-byte segments (DKIM remove)", signatures.Length,
            NsPerByte(signatures, _ => DkimSignatureScanner.RemoveAll(pieces)), dkimBaseline);
    }

    private static void Report(string name, int bytes, double nsPerByte, double baseline) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-58} {bytes,10} {nsPerByte,9:F2} {nsPerByte / baseline,7:F2}"));

    private static double NsPerByte<T>(byte[] input, Func<ReadOnlyMemory<byte>, T> work)
    {
        GC.KeepAlive(work(input)); // warm-up, and tier-up for the loops below
        var rounds = new double[5];
        for (var r = 0; r < rounds.Length; r++)
        {
            var watch = Stopwatch.StartNew();
            long iterations = 0;
            do
            {
                GC.KeepAlive(work(input));
                iterations++;
            }
            while (watch.ElapsedMilliseconds < 150);

            rounds[r] = watch.Elapsed.TotalNanoseconds / iterations / input.Length;
        }

        Array.Sort(rounds);
        return rounds[rounds.Length / 2];
    }

    private static byte[] OrdinaryAmp(int size) => MimeBenchmarkMessages.Amp(size);

    private static byte[] AmpDocumentOf(byte[] message)
    {
        var root = MimeParser.Parse(message, Defaults).Root;
        return root.Children.Single(c => c.ContentType.SubType == "x-amp-html").BodyBytes.ToArray();
    }

    private static byte[] Dkim(string extraHeaders, string body) =>
        Encoding.ASCII.GetBytes($"From: a@example.com\r\n{extraHeaders}Subject: s\r\n\r\n{body}");

    private static string Repeat(int n, Func<int, string> unit)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            sb.Append(unit(i));
        }

        return sb.ToString();
    }
}
