using System.Text;

namespace SmtpAmpProxy.Normalizer.Tests.Hostile;

/// <summary>AMP documents built to make a markup scanner backtrack or rescan, each scaled by <c>n</c>.</summary>
internal static class HostileDocuments
{
    private const string Start = "<!doctype html><html amp4email><head><meta charset=\"utf-8\"></head><body>";

    public static readonly (string Name, Func<int, string> Build)[] All =
    [
        ("many attributes", n => Repeat("<html amp4email", n, i => $" a{i}=\"v\" b{i}='w' c{i}=x d{i}") + ">"),
        ("unclosed tags", n => Start + Repeat("", n, i => "<a b=\"1\" <p ")),
        ("unclosed quote after many tags", n => Start + Repeat("", n, i => "<p x=1>") + "<img src=\"" + Repeat("", n, i => "<p>")),
        ("comments", n => Start + Repeat("", n, i => "<!-- c -- -> --!> -->")),
        ("unclosed comment", n => Start + "<!--" + Repeat("", n, i => "<!-- <p> -- >")),
        ("declarations without end", n => Repeat("", n, i => "<!doctype   html ") + Start),
        ("end tags without '>'", n => Start + Repeat("", n, i => "</p x ")),
        ("script near-miss end tags", n => Start + "<script>" + Repeat("", n, i => "</scrip</scriptx</ script") + "</script>"),
        ("many raw-text elements", n => Start + Repeat("", n, i => "<style amp-custom>a{}</style><title>t</title>")),
        ("srcset with many candidates", n => Start + "<img srcset=\"" + Repeat("", n, i => $"http://a/{i}.png {i}w, ") + "\">"),
        ("rel with many tokens", n => Start + Repeat("", n, i => "<link rel=\"a b c d stylesheet\">")),
        ("lone angle brackets", n => Start + Repeat("", n, i => "<<< <1 <= <> ")),
    ];

    private static string Repeat(string head, int n, Func<int, string> unit)
    {
        var sb = new StringBuilder(head);
        for (var i = 0; i < n; i++)
        {
            sb.Append(unit(i));
        }

        return sb.ToString();
    }
}
