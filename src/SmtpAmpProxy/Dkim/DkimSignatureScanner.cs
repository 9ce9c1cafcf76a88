namespace SmtpAmpProxy.Dkim;

/// <summary>A DKIM-Signature field of the top-level header block.</summary>
/// <param name="Offset">Offset of the field in the message.</param>
/// <param name="Length">The whole field, continuation lines and final CRLF included.</param>
/// <param name="Domain">The <c>d=</c> tag in lower case; null when absent.</param>
/// <param name="Selector">The <c>s=</c> tag; null when absent.</param>
/// <param name="Value">The field value unfolded.</param>
internal sealed record DkimSignatureField(int Offset, int Length, string? Domain, string? Selector, string Value);

/// <summary>
/// Finds the DKIM-Signature fields of the top-level header block (a signature on an attached
/// message is that message's own business) and removes some of them, as slices of the message.
/// </summary>
internal static class DkimSignatureScanner
{
    public const string FieldName = "dkim-signature";

    public static IReadOnlyList<DkimSignatureField> Find(IReadOnlyList<ReadOnlyMemory<byte>> message) =>
        Find(HeaderBlock.Read(message));

    public static IReadOnlyList<DkimSignatureField> Find(HeaderBlock headers)
    {
        var found = new List<DkimSignatureField>();
        foreach (var field in headers.Fields)
        {
            if (field.Name == FieldName)
            {
                var value = headers.UnfoldedValue(field);
                var domain = Tag(value, "d");
                found.Add(new DkimSignatureField(field.Offset, field.Length, domain?.ToLowerInvariant(), Tag(value, "s"), value));
            }
        }

        return found;
    }

    /// <summary>The message without every DKIM-Signature field of the top-level header block.</summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> RemoveAll(IReadOnlyList<ReadOnlyMemory<byte>> message) =>
        Remove(message, Find(message));

    /// <summary>The message without the top-level DKIM-Signature fields whose <c>d=</c> is <paramref name="domain"/> (any case).</summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> RemoveDomain(IReadOnlyList<ReadOnlyMemory<byte>> message, string domain) =>
        Remove(message, Find(message).Where(s => string.Equals(s.Domain, domain, StringComparison.OrdinalIgnoreCase)).ToList());

    /// <summary>The message without the given fields: slices around them, no byte copied.</summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> Remove(IReadOnlyList<ReadOnlyMemory<byte>> message, IReadOnlyList<DkimSignatureField> fields)
    {
        if (fields.Count == 0)
        {
            return message;
        }

        var ranges = fields.OrderBy(f => f.Offset).Select(f => ((long)f.Offset, (long)f.Length)).ToList();
        return MessageSegments.Without(message, ranges);
    }

    /// <summary>
    /// The value of one tag in an RFC 6376 §3.2 tag list, white space (FWS) removed; null when absent.
    /// The first occurrence wins; a signature with duplicate tags is invalid anyway.
    /// </summary>
    public static string? Tag(string tagList, string name)
    {
        DkimWork.Add(tagList.Length);
        foreach (var spec in tagList.Split(';'))
        {
            var equals = spec.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && spec.AsSpan(0, equals).Trim(" \t").Equals(name, StringComparison.Ordinal))
            {
                return string.Concat(spec.AsSpan(equals + 1).ToString().Where(c => c is not (' ' or '\t')));
            }
        }

        return null;
    }
}
