using System.Diagnostics;
using System.Globalization;
using System.Text;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Tests.Hostile;
using SmtpAmpProxy.Normalizer;
using SmtpAmpProxy.Normalizer.Documents;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Tests.Hostile;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>
/// Time per input byte of the hostile shapes the linearity tests use, next to ordinary AMP mail of about the same
/// size through the same code, in one run, as ratios. A plain stopwatch harness: five rounds of 100 ms each, every
/// round paired with a baseline round just before it, and the median ratio counts (other load on the machine
/// then slows both sides of a pair alike).
/// <code>dotnet run -c Release --project bench/SmtpAmpProxy.Benchmarks -- hostile [n]</code>
/// </summary>
internal static class HostileShapeBench
{
    private static readonly AmpOptions Options = new();
    private static readonly MimeLimits Defaults = new();

    public static void Run(string[] args)
    {
        var n = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        Console.WriteLine($"hostile shapes at n = {n}. Each case runs in five rounds paired with its baseline (ordinary AMP mail of");
        Console.WriteLine("similar size through the same code); ratio = median over rounds of (case ns/byte) / (baseline ns/byte).");
        Console.WriteLine();
        Console.WriteLine($"{"case",-60} {"bytes",9} {"ns/byte",8} {"base",6} {"ratio",6}");

        var parameterBomb = HostileShapes.ParameterBomb(n);
        var ordinary = OrdinaryAmp(parameterBomb.Length);
        Func<ReadOnlyMemory<byte>, object> normalize = m => AmpNormalizer.Normalize(m, Defaults, Options);
        Measure("parameter bomb (normalize, default limits: refused)", parameterBomb, normalize, ordinary, normalize);
        var manyCapped = ManyPartsWithParameters(Defaults.MaxParts - 2, Defaults.MaxParametersPerField - 1);
        Measure($"{Defaults.MaxParts - 2} parts of {Defaults.MaxParametersPerField - 1} parameters (normalize, default limits)",
            manyCapped, normalize, OrdinaryAmp(manyCapped.Length), normalize);
        foreach (var (name, build, limits) in HostileShapes.All)
        {
            var message = build(n);
            Measure($"{name} (parse, limits lifted)", message, m => MimeParser.Parse(m, limits), OrdinaryAmp(message.Length), m => MimeParser.Parse(m, Defaults));
        }

        Console.WriteLine();
        Func<ReadOnlyMemory<byte>, object> scan = d => AmpMarkupScanner.Scan(d.Span);
        foreach (var (name, build) in HostileDocuments.All)
        {
            var document = Encoding.UTF8.GetBytes(build(n));
            Measure($"{name} (markup scan)", document, scan, AmpDocumentOf(OrdinaryAmp(3 * document.Length)), scan);
        }

        Console.WriteLine();
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var key = new DkimKey("example.com", "s", rsa);
        var time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        Func<ReadOnlyMemory<byte>, object> sign = m => DkimSigner.Sign([m], key, time);
        var manyFields = Dkim(Repeat(n, i => $"To: r{i}@example.org\r\n"), "body\r\n");
        Measure("many header fields (DKIM sign)", manyFields, sign, OrdinaryAmp(manyFields.Length), sign);
        var spaces = Dkim("Subject: a" + Repeat(n, _ => " \t  \t") + "b\r\n", "a" + Repeat(n, _ => " \t \t ") + "b\r\n");
        Measure("white-space runs in header and body (DKIM sign)", spaces, sign, OrdinaryAmp(spaces.Length), sign);
        var signatures = Dkim(Repeat(n, i => $"DKIM-Signature: v=1; d=d{i}.example; s=s; b=x\r\n"), "body\r\n");
        var pieces = InPieces(signatures);
        var ordinarySigned = Dkim(Repeat(3, i => $"DKIM-Signature: v=1; d=d{i}.example; s=s; b=x\r\n"), Encoding.ASCII.GetString(OrdinaryAmp(signatures.Length)));
        var ordinaryPieces = InPieces(ordinarySigned);
        Measure("many signatures over 64-byte segments (DKIM remove)", signatures, _ => DkimSignatureScanner.RemoveAll(pieces),
            ordinarySigned, _ => DkimSignatureScanner.RemoveAll(ordinaryPieces));
    }

    private static void Measure(
        string name, byte[] input, Func<ReadOnlyMemory<byte>, object> work, byte[] baselineInput, Func<ReadOnlyMemory<byte>, object> baseline)
    {
        var ratios = new double[5];
        var perByte = new double[5];
        var basePerByte = new double[5];
        GC.KeepAlive(work(input)); // warm-up, and tier-up for the loops below
        GC.KeepAlive(baseline(baselineInput));
        for (var r = 0; r < ratios.Length; r++)
        {
            basePerByte[r] = NsPerByte(baselineInput, baseline);
            perByte[r] = NsPerByte(input, work);
            ratios[r] = perByte[r] / basePerByte[r];
        }

        Array.Sort(ratios);
        Array.Sort(perByte);
        Array.Sort(basePerByte);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-60} {input.Length,9} {perByte[2],8:F2} {basePerByte[2],6:F2} {ratios[2],6:F2}"));
    }

    private static double NsPerByte(byte[] input, Func<ReadOnlyMemory<byte>, object> work)
    {
        var watch = Stopwatch.StartNew();
        long iterations = 0;
        do
        {
            GC.KeepAlive(work(input));
            iterations++;
        }
        while (watch.ElapsedMilliseconds < 100);

        return watch.Elapsed.TotalNanoseconds / iterations / input.Length;
    }

    private static List<ReadOnlyMemory<byte>> InPieces(byte[] message) =>
        Enumerable.Range(0, (message.Length + 63) / 64).Select(i => (ReadOnlyMemory<byte>)message.AsMemory(i * 64, Math.Min(64, message.Length - (i * 64)))).ToList();

    /// <summary>An AMP alternative under multipart/mixed with <paramref name="parts"/> more parts, each at the parameter cap.</summary>
    private static byte[] ManyPartsWithParameters(int parts, int parameters)
    {
        var sb = new StringBuilder("From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n");
        sb.Append("--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nx\r\n")
            .Append("--a\r\nContent-Type: text/x-amp-html\r\n\r\n<html amp4email></html>\r\n--a--\r\n");
        for (var p = 0; p < parts - 2; p++)
        {
            sb.Append("--m\r\nContent-Type: application/octet-stream");
            for (var i = 0; i < parameters; i++)
            {
                sb.Append("; p").Append(i).Append("=v");
            }

            sb.Append("\r\n\r\nx\r\n");
        }

        return Encoding.ASCII.GetBytes(sb.Append("--m--\r\n").ToString());
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
