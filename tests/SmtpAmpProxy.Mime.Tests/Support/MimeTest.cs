using System.Text;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Mime.Tests.Support;

internal static class MimeTest
{
    public static readonly MimeLimits Limits = new();

    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    /// <summary>Text with "\n" line ends turned into CRLF.</summary>
    public static byte[] Crlf(string text) => Bytes(text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal));

    public static MimeParseResult Parse(byte[] message, MimeLimits? limits = null) => MimeParser.Parse(message, limits ?? Limits);

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.Latin1.GetString(bytes.Span);

    public static byte[] Concat(IReadOnlyList<ReadOnlyMemory<byte>> segments)
    {
        var output = new byte[segments.Sum(s => s.Length)];
        var at = 0;
        foreach (var s in segments)
        {
            s.Span.CopyTo(output.AsSpan(at));
            at += s.Length;
        }

        return output;
    }

    public static byte[] Rewrite(byte[] source, MimeParseResult parsed, MimeRewrite rewrite) =>
        Concat(MimeWriter.GetSegments(source, parsed, rewrite));

    /// <summary>Empty string when equal; otherwise where the first difference is, as line:column (1-based).</summary>
    public static string FirstDifference(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        var n = expected.CommonPrefixLength(actual);
        if (n == expected.Length && n == actual.Length)
        {
            return string.Empty;
        }

        var line = 1 + expected[..n].Count((byte)'\n');
        var lastNl = expected[..n].LastIndexOf((byte)'\n');
        var column = n - lastNl;
        return $"first difference at byte {n}, line {line}, column {column} (expected length {expected.Length}, actual {actual.Length})";
    }
}
