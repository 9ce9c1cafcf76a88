using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;

namespace SmtpAmpProxy.Normalizer.Tests.Support;

internal static class Trees
{
    public static readonly MimeLimits Limits = new();

    public static NormalizationResult Normalize(byte[] message, AmpOptions? options = null) =>
        AmpNormalizer.Normalize(message, Limits, options ?? new AmpOptions());

    public static byte[] Output(byte[] message, NormalizationResult result)
    {
        var output = new MemoryStream();
        foreach (var segment in AmpNormalizer.GetOutputSegments(message, result))
        {
            output.Write(segment.Span);
        }

        return output.ToArray();
    }

    public static IEnumerable<MimeEntity> All(MimeEntity root)
    {
        yield return root;
        foreach (var child in root.Children)
        {
            foreach (var e in All(child))
            {
                yield return e;
            }
        }
    }

    public static IReadOnlyList<MimeEntity> Alternatives(MimeEntity root) =>
        All(root).Where(e => e.ContentType.Is("multipart", "alternative")).ToList();

    /// <summary>Child content types of every multipart/alternative, in document order.</summary>
    public static List<string[]> AlternativeOrders(byte[] message) =>
        Alternatives(MimeParser.Parse(message, Limits).Root)
            .Select(a => a.Children.Select(c => c.ContentType.MimeType).ToArray())
            .ToList();

    public static string[] ChildTypes(byte[] message, int alternativeIndex = 0) => AlternativeOrders(message)[alternativeIndex];

    public static string Slice(byte[] message, MimeEntity e) =>
        System.Text.Encoding.UTF8.GetString(message, e.Offset, e.Length);
}
