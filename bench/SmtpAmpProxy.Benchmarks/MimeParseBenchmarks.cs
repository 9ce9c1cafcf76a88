using System.Text;
using BenchmarkDotNet.Attributes;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>
/// Structure parse of a typical AMP message (5 KB) and of a large one (25 MB, three base64 attachments), where
/// the scan for delimiter lines must run at memory speed.
/// </summary>
[MemoryDiagnoser]
public class MimeParseBenchmarks
{
    private static readonly MimeLimits Limits = new();
    private byte[] _small = [];
    private byte[] _large = [];

    [GlobalSetup]
    public void Setup()
    {
        _small = MimeBenchmarkMessages.Amp(5 * 1024);
        _large = MimeBenchmarkMessages.WithAttachments(25 * 1024 * 1024);
        var large = MimeParser.Parse(_large, Limits).Root;
        if (MimeParser.Parse(_small, Limits).Root.Children.Count != 3 || large.Children.Count != 4 || large.Children[0].Children.Count != 3)
        {
            throw new InvalidOperationException("benchmark messages do not have the intended structure");
        }
    }

    [Benchmark(Description = "parse 5 KB AMP alternative")]
    public MimeParseResult ParseSmall() => MimeParser.Parse(_small, Limits);

    [Benchmark(Description = "parse 25 MB mixed, 3 base64 attachments")]
    public MimeParseResult ParseLarge() => MimeParser.Parse(_large, Limits);

    [Benchmark(Description = "segments 25 MB, AMP moved")]
    public int RewriteLarge()
    {
        var parsed = MimeParser.Parse(_large, Limits);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root.Children[0], [1, 0, 2]);
        return MimeWriter.GetSegments(_large, parsed, rewrite).Count;
    }
}

internal static class MimeBenchmarkMessages
{
    private const string Header = "From: Sender <sender@example.com>\r\nTo: rcpt@example.org\r\nSubject: benchmark\r\n"
        + "Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n";

    /// <summary>multipart/alternative with text/plain, text/x-amp-html and text/html, about <paramref name="size"/> bytes.</summary>
    public static byte[] Amp(int size)
    {
        var third = Math.Max(0, (size - 900) / 3);
        var sb = new StringBuilder(size + 256);
        sb.Append(Header).Append("Content-Type: multipart/alternative; boundary=\"alt-0001\"\r\n\r\n");
        sb.Append("--alt-0001\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
        AppendText(sb, third, "Plain text fallback for the AMP message. ");
        sb.Append("\r\n--alt-0001\r\nContent-Type: text/x-amp-html; charset=utf-8\r\n\r\n");
        sb.Append("<!doctype html><html amp4email><head><meta charset=\"utf-8\"></head><body>\r\n");
        AppendText(sb, third, "<p>AMP content with <amp-img src=\"x.png\" width=\"1\" height=\"1\"></amp-img></p> ");
        sb.Append("</body></html>\r\n--alt-0001\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n");
        AppendText(sb, third, "<p>HTML fallback content.</p> ");
        sb.Append("</body></html>\r\n--alt-0001--\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    /// <summary>multipart/mixed: an AMP alternative, then three base64 attachments filling <paramref name="size"/> bytes.</summary>
    public static byte[] WithAttachments(int size)
    {
        using var output = new MemoryStream(size + 4096);
        void Write(string s) => output.Write(Encoding.ASCII.GetBytes(s));

        Write(Header + "Content-Type: multipart/mixed; boundary=\"mixed-0001\"\r\n\r\nThis is a multi-part message in MIME format.\r\n");
        Write("--mixed-0001\r\n");
        var alternative = Amp(5 * 1024);
        var bodyStart = Encoding.ASCII.GetString(alternative).IndexOf("Content-Type: multipart", StringComparison.Ordinal);
        output.Write(alternative.AsSpan(bodyStart, alternative.Length - bodyStart - 2));

        var random = new Random(42);
        var each = (size - (int)output.Length) / 3 / 4 * 3 * 76 / 78;
        for (var i = 0; i < 3; i++)
        {
            Write($"\r\n--mixed-0001\r\nContent-Type: application/octet-stream; name=\"file{i}.bin\"\r\n"
                + $"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"file{i}.bin\"\r\n\r\n");
            var data = new byte[each];
            random.NextBytes(data);
            var base64 = Convert.ToBase64String(data, Base64FormattingOptions.InsertLineBreaks);
            Write(base64);
        }

        Write("\r\n--mixed-0001--\r\n");
        return output.ToArray();
    }

    private static void AppendText(StringBuilder sb, int length, string unit)
    {
        var start = sb.Length;
        while (sb.Length - start < length)
        {
            sb.Append(unit);
            if ((sb.Length - start) % 600 < unit.Length)
            {
                sb.Append("\r\n");
            }
        }
    }
}
