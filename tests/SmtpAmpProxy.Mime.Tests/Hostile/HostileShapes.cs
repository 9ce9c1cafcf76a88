using System.Text;

namespace SmtpAmpProxy.Mime.Tests.Hostile;

/// <summary>
/// Messages built to make a parser do more than linear work, each scaled by <c>n</c>. Every one mentions
/// text/x-amp-html, so the proxy's fast path sends it to the parser.
/// </summary>
internal static class HostileShapes
{
    private const string Top = "From: a@example.com\r\nTo: b@example.com\r\nSubject: shape\r\nMIME-Version: 1.0\r\n";

    /// <summary>Every count limit out of the way, so the parser reads the whole shape.</summary>
    public static readonly MimeLimits Unbounded = new()
    {
        MaxDepth = 64, MaxParts = int.MaxValue, MaxHeaderBlockBytes = int.MaxValue, MaxParametersPerField = int.MaxValue,
    };

    public static readonly (string Name, Func<int, byte[]> Build, MimeLimits Limits)[] All =
    [
        ("parameter bomb", ParameterBomb, Unbounded),
        ("repeated parameter", RepeatedParameter, Unbounded),
        ("RFC 2231 sections in reverse", ReversedContinuations, Unbounded),
        ("RFC 2231 sections with gaps", GappedContinuations, Unbounded),
        ("long folded Content-Type", LongFoldedField, Unbounded),
        ("many header fields", ManyFields, Unbounded),
        ("many parts", ManyParts, Unbounded),
        ("boundary-prefix lines at depth 32", BoundaryPrefixLinesDeep, new MimeLimits { MaxHeaderBlockBytes = int.MaxValue }),
        ("unclosed comments and quotes", UnclosedCommentsAndQuotes, Unbounded),
    ];

    /// <summary>A Content-Type with n distinct parameters (the reproduction: 20,000 took 3.7 s).</summary>
    public static byte[] ParameterBomb(int n)
    {
        var sb = new StringBuilder(Top).Append("Content-Type: multipart/alternative; boundary=b");
        for (var i = 0; i < n; i++)
        {
            sb.Append(";\r\n p").Append(i).Append("=v");
        }

        return Finish(sb.Append("\r\n\r\n"), "b");
    }

    public static byte[] RepeatedParameter(int n)
    {
        var sb = new StringBuilder(Top).Append("Content-Type: multipart/alternative; boundary=b");
        for (var i = 0; i < n; i++)
        {
            sb.Append("; charset=x").Append(i);
        }

        return Finish(sb.Append("\r\n\r\n"), "b");
    }

    /// <summary>name*(n-1) first, name*0 last: every section out of order (RFC 2231 §3 allows any order).</summary>
    public static byte[] ReversedContinuations(int n)
    {
        var sb = new StringBuilder(Top).Append("Content-Type: multipart/alternative; boundary=b");
        for (var i = n - 1; i >= 0; i--)
        {
            sb.Append(";\r\n name*").Append(i % 9999).Append("*=%41");
        }

        return Finish(sb.Append("\r\n\r\n"), "b");
    }

    /// <summary>Many names, each with sections 1..k but no section 0: none joins, all are looked at.</summary>
    public static byte[] GappedContinuations(int n)
    {
        var sb = new StringBuilder(Top).Append("Content-Type: multipart/alternative; boundary=b");
        for (var i = 0; i < n; i++)
        {
            sb.Append("; n").Append(i / 4).Append('*').Append(1 + (i % 4)).Append("=x");
        }

        return Finish(sb.Append("\r\n\r\n"), "b");
    }

    public static byte[] LongFoldedField(int n)
    {
        var sb = new StringBuilder(Top).Append("Content-Type: multipart/alternative;");
        for (var i = 0; i < n; i++)
        {
            sb.Append("\r\n (fold ").Append(i).Append(')');
        }

        return Finish(sb.Append(" boundary=b\r\n\r\n"), "b");
    }

    public static byte[] ManyFields(int n)
    {
        var sb = new StringBuilder(Top);
        for (var i = 0; i < n; i++)
        {
            sb.Append("X-Field-").Append(i).Append(": value\r\n");
        }

        return Finish(sb.Append("Content-Type: multipart/alternative; boundary=b\r\n\r\n"), "b");
    }

    public static byte[] ManyParts(int n)
    {
        var sb = new StringBuilder(Top).Append("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
        for (var i = 0; i < n; i++)
        {
            sb.Append("--b\r\nContent-Type: text/x-amp-html\r\n\r\nx\r\n");
        }

        return Encoding.ASCII.GetBytes(sb.Append("--b--\r\n").ToString());
    }

    /// <summary>
    /// 32 nested multiparts whose boundaries share a 60-byte prefix, then n body lines that match that prefix
    /// and no boundary: every line is compared with every open boundary.
    /// </summary>
    public static byte[] BoundaryPrefixLinesDeep(int n)
    {
        var prefix = new string('p', 60);
        var sb = new StringBuilder(Top);
        for (var d = 0; d < 32; d++)
        {
            sb.Append("Content-Type: multipart/mixed; boundary=").Append(prefix).Append(d.ToString("D2"))
                .Append("\r\n\r\n--").Append(prefix).Append(d.ToString("D2")).Append("\r\n");
        }

        sb.Append("Content-Type: text/x-amp-html\r\n\r\n");
        for (var i = 0; i < n; i++)
        {
            sb.Append("--").Append(prefix).Append("zz\r\n");
        }

        for (var d = 31; d >= 0; d--)
        {
            sb.Append("--").Append(prefix).Append(d.ToString("D2")).Append("--\r\n");
        }

        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    /// <summary>Parameters whose values open a quote or comment that a later one closes, n times over.</summary>
    public static byte[] UnclosedCommentsAndQuotes(int n)
    {
        var sb = new StringBuilder(Top).Append("Content-Type: multipart/alternative; boundary=b");
        for (var i = 0; i < n; i++)
        {
            sb.Append(i % 2 == 0 ? "; a=(\"" : "; b=\"(\\\"");
        }

        return Finish(sb.Append("\r\n\r\n"), "b");
    }

    /// <summary>A compliant AMP alternative under the given top header.</summary>
    private static byte[] Finish(StringBuilder sb, string boundary)
    {
        sb.Append("--").Append(boundary).Append("\r\nContent-Type: text/plain\r\n\r\nplain\r\n")
            .Append("--").Append(boundary).Append("\r\nContent-Type: text/x-amp-html\r\n\r\n<html amp4email></html>\r\n")
            .Append("--").Append(boundary).Append("\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n")
            .Append("--").Append(boundary).Append("--\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }
}
