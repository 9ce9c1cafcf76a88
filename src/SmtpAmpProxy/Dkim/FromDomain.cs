namespace SmtpAmpProxy.Dkim;

/// <summary>
/// The domain of the first address in a From field (RFC 5322 §3.4): the domain DMARC, and Gmail's
/// AMP check, align the DKIM <c>d=</c> with.
/// </summary>
internal static class FromDomain
{
    public static string? Find(HeaderBlock headers)
    {
        foreach (var field in headers.Fields)
        {
            if (field.Name == "from")
            {
                return Parse(headers.UnfoldedValue(field));
            }
        }

        return null;
    }

    /// <summary>
    /// Reads <c>Name &lt;user@example.com&gt;</c>, <c>user@example.com (comment)</c>, quoted display
    /// names holding commas or '@', and groups; the domain comes back in lower case, null when none.
    /// </summary>
    public static string? Parse(string value)
    {
        DkimWork.Add(value.Length);
        var address = new System.Text.StringBuilder();
        var depth = 0;
        var quoted = false;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (quoted)
            {
                if (c == '\\' && i + 1 < value.Length)
                {
                    address.Append(c).Append(value[++i]);
                    continue;
                }

                quoted = c != '"';
                address.Append(c);
                continue;
            }

            if (depth > 0)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '(')
                {
                    depth++;
                }
                else if (c == ')')
                {
                    depth--;
                }

                continue;
            }

            switch (c)
            {
                case '(':
                    depth = 1;
                    break;
                case '"':
                    // A quoted display name: whatever it holds is not the address.
                    quoted = true;
                    address.Append(c);
                    break;
                case '<':
                    var close = value.IndexOf('>', i + 1);
                    return DomainOf(close < 0 ? value[(i + 1)..] : value[(i + 1)..close]);
                case ':':
                    // "group: a@b, c@d;": the display name of the group is not an address.
                    address.Clear();
                    break;
                case ',' or ';':
                    if (DomainOf(address.ToString()) is { } domain)
                    {
                        return domain;
                    }

                    address.Clear();
                    break;
                default:
                    address.Append(c);
                    break;
            }
        }

        return DomainOf(address.ToString());
    }

    private static string? DomainOf(string addrSpec)
    {
        // The last '@': a quoted local part may hold one too.
        var at = addrSpec.LastIndexOf('@');
        if (at < 0)
        {
            return null;
        }

        var domain = addrSpec[(at + 1)..].Trim().TrimEnd('.').ToLowerInvariant();
        return domain.Length == 0 || domain.Any(char.IsWhiteSpace) ? null : domain;
    }
}
