using System.Buffers;
using System.Text;
using SmtpAmpProxy.Mime.Model;

namespace SmtpAmpProxy.Mime.Parsing;

/// <summary>
/// Structured field values of RFC 2045 (Content-Type, Content-Transfer-Encoding, Content-Disposition) with
/// comments (RFC 5322 §3.2.2), folding, quoted strings and RFC 2231 parameter continuations and charsets.
/// Lenient: what it cannot read it skips, it never throws.
/// </summary>
internal static class HeaderValueParser
{
    // RFC 2045 §5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>.
    private static readonly SearchValues<byte> TokenBytes = SearchValues.Create(
        "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz{|}~"u8);

    // Longest continuation index read ("name*9999"): RFC 2231 sets no bound, the header block limit does.
    private const int MaxSectionDigits = 4;

    /// <summary>Parses a Content-Type value with no cap on its parameters (values from configuration and tests).</summary>
    public static ContentType? ParseContentType(ReadOnlySpan<byte> value, bool wantBoundary, out byte[]? boundary) =>
        ParseContentType(value, wantBoundary, int.MaxValue, out boundary, out _);

    /// <summary>
    /// Parses a Content-Type value. <paramref name="problem"/> says when the field has more than
    /// <paramref name="maxParameters"/> parameters (parsing stopped there) or a boundary two parsers read apart.
    /// </summary>
    public static ContentType? ParseContentType(
        ReadOnlySpan<byte> value, bool wantBoundary, int maxParameters, out byte[]? boundary, out FieldProblem problem)
    {
        boundary = null;
        problem = FieldProblem.None;
        var i = 0;
        SkipCfws(value, ref i);
        var type = ReadToken(value, ref i);
        SkipCfws(value, ref i);
        if (type.IsEmpty || i >= value.Length || value[i] != (byte)'/')
        {
            return null;
        }

        i++;
        SkipCfws(value, ref i);
        var subType = ReadToken(value, ref i);
        if (subType.IsEmpty)
        {
            return null;
        }

        var mediaType = MediaTypeNames.Lower(type);
        var parameters = ParseParameters(value, i, wantBoundary && mediaType == "multipart", maxParameters, out boundary, out problem);
        return new ContentType(mediaType, MediaTypeNames.Lower(subType), parameters);
    }

    /// <summary>First token of a value, lower-case (Content-Transfer-Encoding, a disposition type).</summary>
    public static string? ParseToken(ReadOnlySpan<byte> value)
    {
        var i = 0;
        SkipCfws(value, ref i);
        var token = ReadToken(value, ref i);
        return token.IsEmpty ? null : MediaTypeNames.Lower(token);
    }

    internal static KeyValuePair<string, string>[] ParseParameters(ReadOnlySpan<byte> value, int i, bool wantBoundary, out byte[]? boundary) =>
        ParseParameters(value, i, wantBoundary, int.MaxValue, out boundary, out _);

    internal static KeyValuePair<string, string>[] ParseParameters(
        ReadOnlySpan<byte> value, int i, bool wantBoundary, int maxParameters, out byte[]? boundary, out FieldProblem problem)
    {
        boundary = null;
        problem = FieldProblem.None;
        List<RawParameter>? raw = null;
        ParseWork.Add(value.Length - i);
        while (true)
        {
            SkipCfws(value, ref i);
            if (i >= value.Length)
            {
                break;
            }

            if (value[i] == (byte)';')
            {
                i++;
                continue;
            }

            var name = ReadToken(value, ref i);
            SkipCfws(value, ref i);
            if (name.IsEmpty || i >= value.Length || value[i] != (byte)'=')
            {
                SkipPastSemicolon(value, ref i);
                continue;
            }

            i++;
            SkipCfws(value, ref i);
            byte[] bytes;
            if (i < value.Length && value[i] == (byte)'"')
            {
                bytes = ReadQuotedString(value, ref i);
            }
            else
            {
                var start = i;
                while (i < value.Length && value[i] is not ((byte)';' or (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)'('))
                {
                    i++;
                }

                bytes = value[start..i].ToArray();
                if (wantBoundary && problem == FieldProblem.None && UnquotedValueRunsOn(value, i)
                    && System.Text.Ascii.EqualsIgnoreCase(name.TrimEnd((byte)'*'), "boundary"u8))
                {
                    // "boundary=foo bar": RFC 2046 needs quotes here. Some parsers take "foo", others "foo bar",
                    // and a message can carry delimiter lines for each: no one tree can be vouched for.
                    problem = FieldProblem.AmbiguousBoundary;
                }
            }

            raw ??= new List<RawParameter>(2);
            if (raw.Count == maxParameters)
            {
                problem = FieldProblem.TooManyParameters;
                break;
            }

            ParseWork.Add(1);
            raw.Add(RawParameter.Create(name, bytes, raw.Count));
        }

        return raw is null ? [] : Assemble(raw, wantBoundary, out boundary);
    }

    /// <summary>
    /// Joins the raw parameters by name, in the order names first appear. Each parameter is filed under its
    /// name once (a dictionary past a handful of names): searching the list for every name made a field of
    /// N parameters cost N² (20,000 parameters took seconds).
    /// </summary>
    private static KeyValuePair<string, string>[] Assemble(List<RawParameter> raw, bool wantBoundary, out byte[]? boundary)
    {
        const int LinearSearchNames = 8;
        boundary = null;
        var names = new List<ParameterName>(Math.Min(raw.Count, 16));
        Dictionary<string, ParameterName>? index = raw.Count > LinearSearchNames ? new(raw.Count, StringComparer.Ordinal) : null;
        foreach (var parameter in raw)
        {
            ParameterName? entry = null;
            if (index is not null)
            {
                index.TryGetValue(parameter.BaseName, out entry);
                ParseWork.Add(1);
            }
            else
            {
                entry = names.Find(n => n.Name == parameter.BaseName);
                ParseWork.Add(names.Count);
            }

            if (entry is null)
            {
                entry = new ParameterName(parameter.BaseName);
                names.Add(entry);
                index?.Add(entry.Name, entry);
            }

            if (parameter.Section < 0)
            {
                entry.Plain ??= parameter;
            }
            else
            {
                (entry.Sections ??= new List<RawParameter>(1)).Add(parameter);
            }
        }

        var result = new List<KeyValuePair<string, string>>(names.Count);
        foreach (var entry in names)
        {
            byte[] bytes;
            Encoding? charset = null;
            if (entry.Sections is { } sections && TryJoinSections(sections, out var joined, out charset))
            {
                // RFC 2231 §4.1: an extended value wins over a plain one of the same name.
                bytes = joined;
            }
            else if (entry.Plain is { } plain)
            {
                bytes = plain.Value;
            }
            else
            {
                continue;
            }

            result.Add(new(entry.Name, Decode(bytes, charset)));
            if (wantBoundary && entry.Name == "boundary")
            {
                // RFC 2046 §5.1.1: a boundary never ends in a space; senders that add one still mean the rest.
                var len = bytes.Length;
                while (len > 0 && bytes[len - 1] is (byte)' ' or (byte)'\t')
                {
                    len--;
                }

                boundary = len == 0 ? null : bytes.AsSpan(0, len).ToArray();
            }
        }

        return [.. result];
    }

    private static bool TryJoinSections(List<RawParameter> sections, out byte[] joined, out Encoding? charset)
    {
        // Sections may come in any order (RFC 2231 §3); arrival order breaks ties so a repeated index keeps its first.
        sections.Sort(static (a, b) => a.Section != b.Section ? a.Section.CompareTo(b.Section) : a.Arrival.CompareTo(b.Arrival));
        ParseWork.Add(sections.Count);
        charset = null;
        joined = [];
        if (sections[0].Section != 0)
        {
            return false;
        }

        var buffer = new ArrayBufferWriter<byte>(64);
        var expected = 0;
        foreach (var section in sections)
        {
            if (section.Section < expected)
            {
                continue; // a repeated index: the first one counts
            }

            if (section.Section != expected)
            {
                break; // RFC 2231 §3: sections are consecutive; a gap ends the value
            }

            ReadOnlySpan<byte> text = section.Value;
            if (section.Encoded && expected == 0)
            {
                // RFC 2231 §4: charset'language'value in the first section only.
                var q1 = text.IndexOf((byte)'\'');
                var q2 = q1 < 0 ? -1 : text[(q1 + 1)..].IndexOf((byte)'\'');
                if (q2 >= 0)
                {
                    charset = LookupCharset(text[..q1]);
                    text = text[(q1 + 1 + q2 + 1)..];
                }
            }

            if (section.Encoded)
            {
                PercentDecode(text, buffer);
            }
            else
            {
                buffer.Write(text);
            }

            expected++;
        }

        joined = buffer.WrittenSpan.ToArray();
        return true;
    }

    private static void PercentDecode(ReadOnlySpan<byte> text, ArrayBufferWriter<byte> output)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var b = text[i];
            if (b == (byte)'%' && i + 2 < text.Length
                && HexValue(text[i + 1]) is var hi and >= 0 && HexValue(text[i + 2]) is var lo and >= 0)
            {
                b = (byte)((hi << 4) | lo);
                i += 2;
            }

            output.GetSpan(1)[0] = b;
            output.Advance(1);
        }
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    private static Encoding? LookupCharset(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.Length > 64)
        {
            return null;
        }

        var text = Encoding.Latin1.GetString(name);
        try
        {
            return CodePagesEncodingProvider.Instance.GetEncoding(text) ?? Encoding.GetEncoding(text);
        }
        catch (ArgumentException)
        {
            return null; // unknown charset: fall back to UTF-8/Latin-1 below
        }
    }

    /// <summary>Bytes as text: the declared charset, else UTF-8 when valid (RFC 6532), else Latin-1 (never fails).</summary>
    internal static string Decode(ReadOnlySpan<byte> bytes, Encoding? charset)
    {
        if (charset is not null)
        {
            return charset.GetString(bytes);
        }

        if (!Ascii.IsValid(bytes) && System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }

        return Encoding.Latin1.GetString(bytes);
    }

    private static byte[] ReadQuotedString(ReadOnlySpan<byte> value, ref int i)
    {
        i++; // opening quote
        var start = i;
        var simple = true;
        while (i < value.Length && value[i] != (byte)'"')
        {
            if (value[i] is (byte)'\\' or (byte)'\r' or (byte)'\n')
            {
                simple = false;
                if (value[i] == (byte)'\\')
                {
                    i++;
                }
            }

            i++;
        }

        var end = Math.Min(i, value.Length);
        i = Math.Min(i + 1, value.Length);
        if (simple)
        {
            return value[start..end].ToArray();
        }

        // RFC 5322 §3.2.4: quoted-pair stands for its character; a fold inside quotes is removed by unfolding.
        var result = new byte[end - start];
        var n = 0;
        for (var j = start; j < end; j++)
        {
            var b = value[j];
            if (b is (byte)'\r' or (byte)'\n')
            {
                continue;
            }

            if (b == (byte)'\\' && j + 1 < end)
            {
                b = value[++j];
            }

            result[n++] = b;
        }

        return result.AsSpan(0, n).ToArray();
    }

    /// <summary>Whether more than comments and white space follow an unquoted value before the next ';'.</summary>
    private static bool UnquotedValueRunsOn(ReadOnlySpan<byte> value, int i)
    {
        SkipCfws(value, ref i);
        return i < value.Length && value[i] != (byte)';';
    }

    private static void SkipPastSemicolon(ReadOnlySpan<byte> value, ref int i)
    {
        while (i < value.Length && value[i] != (byte)';')
        {
            if (value[i] == (byte)'"')
            {
                _ = ReadQuotedString(value, ref i);
                continue;
            }

            i++;
        }
    }

    internal static void SkipCfws(ReadOnlySpan<byte> value, ref int i)
    {
        while (i < value.Length)
        {
            var b = value[i];
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                i++;
            }
            else if (b == (byte)'(')
            {
                SkipComment(value, ref i);
            }
            else
            {
                return;
            }
        }
    }

    private static void SkipComment(ReadOnlySpan<byte> value, ref int i)
    {
        var depth = 0;
        while (i < value.Length)
        {
            var b = value[i++];
            if (b == (byte)'\\')
            {
                i++;
            }
            else if (b == (byte)'(')
            {
                depth++;
            }
            else if (b == (byte)')' && --depth == 0)
            {
                return;
            }
        }

        i = value.Length;
    }

    private static ReadOnlySpan<byte> ReadToken(ReadOnlySpan<byte> value, ref int i)
    {
        var rest = value[i..];
        var n = rest.IndexOfAnyExcept(TokenBytes);
        if (n < 0)
        {
            n = rest.Length;
        }

        i += n;
        return rest[..n];
    }

    private sealed class ParameterName(string name)
    {
        public string Name { get; } = name;

        public RawParameter? Plain { get; set; }

        public List<RawParameter>? Sections { get; set; }
    }

    private sealed class RawParameter
    {
        public required string BaseName { get; init; }

        /// <summary>RFC 2231 section index; 0 for "name*"; -1 for a plain parameter.</summary>
        public required int Section { get; init; }

        /// <summary>The section is percent-encoded ("name*" or "name*N*").</summary>
        public required bool Encoded { get; init; }

        public required byte[] Value { get; init; }

        /// <summary>Position among the field's parameters.</summary>
        public required int Arrival { get; init; }

        public static RawParameter Create(ReadOnlySpan<byte> name, byte[] value, int arrival)
        {
            var star = name.IndexOf((byte)'*');
            if (star > 0)
            {
                var rest = name[(star + 1)..];
                var encoded = false;
                if (!rest.IsEmpty && rest[^1] == (byte)'*')
                {
                    encoded = true;
                    rest = rest[..^1];
                }

                if (rest.IsEmpty)
                {
                    return new() { BaseName = MediaTypeNames.Lower(name[..star]), Section = 0, Encoded = true, Value = value, Arrival = arrival };
                }

                if (rest.Length <= MaxSectionDigits && rest.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0)
                {
                    var section = 0;
                    foreach (var d in rest)
                    {
                        section = (section * 10) + (d - '0');
                    }

                    return new() { BaseName = MediaTypeNames.Lower(name[..star]), Section = section, Encoded = encoded, Value = value, Arrival = arrival };
                }
            }

            return new() { BaseName = MediaTypeNames.Lower(name), Section = -1, Encoded = false, Value = value, Arrival = arrival };
        }
    }
}

/// <summary>What made a structured field unreadable as one tree.</summary>
internal enum FieldProblem
{
    None,

    /// <summary>More parameters than the cap; the rest were not read.</summary>
    TooManyParameters,

    /// <summary>An unquoted boundary followed by more text before the next ';'.</summary>
    AmbiguousBoundary,
}
