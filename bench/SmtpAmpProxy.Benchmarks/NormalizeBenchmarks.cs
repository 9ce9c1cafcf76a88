using System.Text;
using BenchmarkDotNet.Attributes;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Normalizer;
using SmtpAmpProxy.Normalizer.Options;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>
/// The normalizer on the three shapes of traffic that matter: a small AMP message that needs a repair
/// (full parse, rules, segments), a small non-AMP message (the fast path most mail takes), and a message
/// at the size limit (boundary scanning over a large base64 attachment).
/// </summary>
[MemoryDiagnoser]
public class NormalizeBenchmarks
{
    private static readonly MimeLimits Limits = new();
    private static readonly AmpOptions Options = new();

    private byte[] _smallMisorderedAmp = [];
    private byte[] _smallNonAmp = [];
    private byte[] _largeMixedAmp = [];

    [GlobalSetup]
    public void Setup()
    {
        _smallMisorderedAmp = NormalizeMessages.SmallMisorderedAmp();
        _smallNonAmp = NormalizeMessages.SmallNonAmp();
        _largeMixedAmp = NormalizeMessages.LargeMixedAmp();
    }

    [Benchmark(Description = "5 KB misordered AMP: parse + rules + segments")]
    public int SmallMisorderedAmp()
    {
        var result = AmpNormalizer.Normalize(_smallMisorderedAmp, Limits, Options);
        return AmpNormalizer.GetOutputSegments(_smallMisorderedAmp, result).Count;
    }

    [Benchmark(Description = "5 KB non-AMP: fast path")]
    public int SmallNonAmp()
    {
        var result = AmpNormalizer.Normalize(_smallNonAmp, Limits, Options);
        return AmpNormalizer.GetOutputSegments(_smallNonAmp, result).Count;
    }

    [Benchmark(Description = "25 MB mixed with misordered AMP")]
    public int LargeMixedAmp()
    {
        var result = AmpNormalizer.Normalize(_largeMixedAmp, Limits, Options);
        return AmpNormalizer.GetOutputSegments(_largeMixedAmp, result).Count;
    }
}

/// <summary>Deterministic benchmark inputs (CRLF line ends, as the SMTP server hands them over).</summary>
public static class NormalizeMessages
{
    private const string Headers =
        "Received: from sender.example.com (sender.example.com [192.0.2.10]) by mx.example.org; Sat, 1 Jun 2024 12:00:00 +0000\r\n" +
        "From: Sender <sender@example.com>\r\nTo: Rcpt <rcpt@example.org>\r\nSubject: Your weekly digest\r\n" +
        "Date: Sat, 01 Jun 2024 12:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n";

    public static byte[] SmallMisorderedAmp() => Encoding.ASCII.GetBytes(
        Headers + "Content-Type: multipart/alternative; boundary=\"=_alt\"\r\n\r\n" +
        Part("=_alt", "text/plain; charset=utf-8", Text("Plain digest line", 1200)) +
        Part("=_alt", "text/html; charset=utf-8", Text("<p>HTML digest line</p>", 1700)) +
        Part("=_alt", "text/x-amp-html; charset=utf-8", Text("<div>AMP digest line</div>", 1700)) +
        "--=_alt--\r\n");

    public static byte[] SmallNonAmp() => Encoding.ASCII.GetBytes(
        Headers + "Content-Type: multipart/alternative; boundary=\"=_alt\"\r\n\r\n" +
        Part("=_alt", "text/plain; charset=utf-8", Text("Plain digest line", 2000)) +
        Part("=_alt", "text/html; charset=utf-8", Text("<p>HTML digest line</p>", 2700)) +
        "--=_alt--\r\n");

    public static byte[] LargeMixedAmp()
    {
        var random = new Random(25);
        var attachment = new byte[18 * 1024 * 1024];
        random.NextBytes(attachment);
        return Encoding.ASCII.GetBytes(
            Headers + "Content-Type: multipart/mixed; boundary=\"=_mixed\"\r\n\r\n" +
            "--=_mixed\r\nContent-Type: multipart/alternative; boundary=\"=_alt\"\r\n\r\n" +
            Part("=_alt", "text/plain; charset=utf-8", Text("Plain digest line", 1200)) +
            Part("=_alt", "text/html; charset=utf-8", Text("<p>HTML digest line</p>", 1700)) +
            Part("=_alt", "text/x-amp-html; charset=utf-8", Text("<div>AMP digest line</div>", 1700)) +
            "--=_alt--\r\n\r\n" +
            "--=_mixed\r\nContent-Type: application/octet-stream; name=\"archive.bin\"\r\n" +
            "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"archive.bin\"\r\n\r\n" +
            Convert.ToBase64String(attachment, Base64FormattingOptions.InsertLineBreaks) + "\r\n" +
            "--=_mixed--\r\n");
    }

    private static string Part(string boundary, string contentType, string body) =>
        $"--{boundary}\r\nContent-Type: {contentType}\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{body}\r\n";

    private static string Text(string line, int bytes)
    {
        var text = new StringBuilder(bytes + line.Length + 2);
        for (int i = 0; text.Length < bytes; i++)
        {
            text.Append(line).Append(' ').Append(i).Append("\r\n");
        }

        return text.ToString().TrimEnd('\r', '\n');
    }
}
