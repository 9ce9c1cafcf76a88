using SmtpAmpProxy.Mime;

namespace SmtpAmpProxy.Normalizer;

/// <summary>
/// Names entities the way IMAP numbers body parts (RFC 3501 section 6.4.5), with a leading slash:
/// "/" is the message, "/2" its second child, "/1/3" the third child of the first child.
/// </summary>
internal static class PartPaths
{
    public static string Of(MimeEntity entity)
    {
        if (entity.Parent is null)
        {
            return "/";
        }

        var indices = new List<int>();
        for (var e = entity; e.Parent is not null; e = e.Parent)
        {
            indices.Add(IndexInParent(e) + 1);
        }

        var text = new System.Text.StringBuilder(indices.Count * 3);
        for (int k = indices.Count - 1; k >= 0; k--)
        {
            text.Append('/').Append(indices[k]);
        }

        return text.ToString();
    }

    public static string Child(string parentPath, int index) =>
        parentPath == "/" ? "/" + (index + 1) : parentPath + "/" + (index + 1);

    public static int IndexInParent(MimeEntity entity)
    {
        var siblings = entity.Parent!.Children;
        for (int i = 0; i < siblings.Count; i++)
        {
            if (ReferenceEquals(siblings[i], entity))
            {
                return i;
            }
        }

        return -1;
    }
}
