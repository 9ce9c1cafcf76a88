using SmtpAmpProxy.Mime.Model;

namespace SmtpAmpProxy.Mime.Writing;

/// <summary>
/// A set of edits on multipart bodies: for each edited multipart, the new order of its children
/// (indices into the original Children); indices left out are dropped.
/// </summary>
public sealed class MimeRewrite
{
    private readonly Dictionary<MimeEntity, int[]> _orders = new(ReferenceEqualityComparer.Instance);

    public bool IsEmpty => _orders.Count == 0;

    /// <summary>Sets (or replaces) the child order of <paramref name="multipart"/>.</summary>
    /// <exception cref="ArgumentException">Not a multipart with children, an index out of range or repeated, or no
    /// child left (RFC 2046 §5.1.1 requires at least one body part).</exception>
    public void SetChildOrder(MimeEntity multipart, IReadOnlyList<int> childOrder)
    {
        ArgumentNullException.ThrowIfNull(multipart);
        ArgumentNullException.ThrowIfNull(childOrder);
        var count = multipart.Children.Count;
        if (!multipart.IsMultipart || count == 0)
        {
            throw new ArgumentException($"{multipart.Path} is not a multipart with children.", nameof(multipart));
        }

        if (childOrder.Count == 0)
        {
            throw new ArgumentException("A multipart keeps at least one body part (RFC 2046 §5.1.1).", nameof(childOrder));
        }

        var seen = new bool[count];
        var order = new int[childOrder.Count];
        for (var i = 0; i < order.Length; i++)
        {
            var index = childOrder[i];
            if ((uint)index >= (uint)count || seen[index])
            {
                throw new ArgumentException($"Child index {index} is out of range or repeated for {multipart.Path}.", nameof(childOrder));
            }

            seen[index] = true;
            order[i] = index;
        }

        _orders[multipart] = order;
    }

    public IReadOnlyList<int>? GetChildOrder(MimeEntity multipart)
    {
        ArgumentNullException.ThrowIfNull(multipart);
        return _orders.TryGetValue(multipart, out var order) ? order : null;
    }

    internal int[]? Find(MimeEntity multipart) => _orders.TryGetValue(multipart, out var order) ? order : null;
}
