using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Mime.Tests.Support;

internal static class RewriteCheck
{
    /// <summary>Every multipart in the tree, depth first.</summary>
    public static IEnumerable<MimeEntity> Multiparts(MimeEntity e)
    {
        if (e.Children.Count > 0)
        {
            yield return e;
        }

        foreach (var c in e.Children)
        {
            foreach (var m in Multiparts(c))
            {
                yield return m;
            }
        }
    }

    /// <summary>The entity at the same path in another tree (path from <see cref="MimeEntity.Path"/>), or null.</summary>
    public static MimeEntity? At(MimeEntity root, string path)
    {
        var e = root;
        foreach (var step in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var index = int.Parse(step, System.Globalization.CultureInfo.InvariantCulture) - 1;
            if (index >= e.Children.Count)
            {
                return null;
            }

            e = e.Children[index];
        }

        return e;
    }

    /// <summary>
    /// Rewrites one multipart and checks the re-parsed output: the multipart at the same path has the chosen
    /// children in the new order, each byte for byte as before. Returns null on success, else what differs.
    /// </summary>
    public static string? Verify(byte[] source, string multipartPath, int[] order)
    {
        var parsed = MimeTest.Parse(source);
        var multipart = At(parsed.Root, multipartPath)!;
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(multipart, order);
        var output = MimeTest.Rewrite(source, parsed, rewrite);
        var reparsed = MimeTest.Parse(output);
        var again = At(reparsed.Root, multipartPath);
        if (again is null || !again.IsMultipart)
        {
            return $"{multipartPath}: not a multipart after rewrite";
        }

        if (again.Children.Count != order.Length)
        {
            return $"{multipartPath}: {again.Children.Count} children after rewrite, expected {order.Length}";
        }

        for (var i = 0; i < order.Length; i++)
        {
            var before = multipart.Children[order[i]].Bytes.Span;
            var after = again.Children[i].Bytes.Span;
            var diff = MimeTest.FirstDifference(before, after);
            if (diff.Length > 0)
            {
                return $"{multipartPath}: child {i + 1} (was {order[i] + 1}): {diff}";
            }
        }

        if (again.Offset != multipart.Offset || !again.HeaderBytes.Span.SequenceEqual(multipart.HeaderBytes.Span))
        {
            return $"{multipartPath}: header block moved or changed";
        }

        var afterEnd = output.AsSpan(again.Offset + again.Length);
        var beforeEnd = source.AsSpan(multipart.Offset + multipart.Length);
        return afterEnd.SequenceEqual(beforeEnd) || !multipart.HasCloseDelimiter
            ? null
            : $"{multipartPath}: bytes after the multipart changed";
    }
}
