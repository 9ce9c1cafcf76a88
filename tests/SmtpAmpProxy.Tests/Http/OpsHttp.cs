using System.Net;
using System.Text.RegularExpressions;

namespace SmtpAmpProxy.Tests.Http;

/// <summary>Plain GETs against the operations port, and sample lookup in a Prometheus exposition.</summary>
internal static partial class OpsHttp
{
    public sealed record Answer(HttpStatusCode Status, string Body, string? ContentType);

    public static async Task<Answer> SendAsync(IPEndPoint endPoint, string path, HttpMethod? method = null)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, $"http://{endPoint}{path}");
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return new Answer(response.StatusCode, body, response.Content.Headers.ContentType?.ToString());
    }

    /// <summary>The value of the sample line <c>name{labels} value</c>, or null when the exposition has no such line.</summary>
    public static double? Sample(string exposition, string nameWithLabels)
    {
        foreach (var raw in exposition.Split('\n'))
        {
            // The OpenTelemetry exporter labels every series with its meter (otel_scope_*): not what a test pins.
            var line = ScopeLabel().Replace(raw, "").Replace(",}", "}", StringComparison.Ordinal).Replace("{}", "", StringComparison.Ordinal);
            if (line.StartsWith(nameWithLabels + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(nameWithLabels.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>Every line is a comment or <c>name{labels} number</c>: what a Prometheus scraper accepts.</summary>
    public static void AssertWellFormed(string exposition)
    {
        Assert.EndsWith("\n", exposition);
        foreach (var line in exposition.TrimEnd('\n').Split('\n'))
        {
            Assert.Matches(SampleOrComment(), line);
        }
    }

    [GeneratedRegex("""otel_scope_[a-z_]+="(?:[^"\\]|\\.)*",?""")]
    private static partial Regex ScopeLabel();

    [GeneratedRegex("""^(# EOF|# (HELP|TYPE|UNIT) [a-z_:][a-z0-9_:]* .+|[a-z_:][a-z0-9_:]*(\{([a-z_][a-z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN))$""")]
    private static partial Regex SampleOrComment();
}
