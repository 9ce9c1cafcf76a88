using System.Text;
using CsCheck;

namespace SmtpAmpProxy.Mime.Tests.Oracles;

/// <summary>
/// Messages for the differential test: well-formed trees written the many ways RFC 2045/2046 allow
/// (header case, quoting, folding, transport padding, body lines that look like delimiters), and the
/// same messages damaged by a few line-level mutations. Generation and shrinking are CsCheck's, so a
/// failure is reported as the smallest input found, with the seed that replays it.
/// </summary>
internal static class MimeGenerators
{
    private const string BoundaryChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=? ";

    private static readonly Gen<string> HeaderName = Gen.OneOf("Content-Type", "content-type", "CONTENT-TYPE", "Content-type");

    private static readonly Gen<string> BodyLine = Gen.Frequency(
        (6, Gen.Char["abcdefgh xyz0123456789.,;:=<>/\"'"].Array[0, 30].Select(c => new string(c))),
        (1, Gen.Const("")),
        (1, Gen.Const("--")),
        (1, Gen.Const("-- ")),
        (1, Gen.Char["-=_abc"].Array[1, 12].Select(c => "--" + new string(c))));

    private static readonly Gen<string> Body = BodyLine.Array[0, 6].Select(lines => string.Join("\r\n", lines));

    private static readonly Gen<string> LeafType = Gen.OneOf(
        "text/plain", "text/html; charset=utf-8", "text/x-amp-html; charset=utf-8", "image/png", "application/pdf; name=\"a.pdf\"",
        "TEXT/Plain; charset=\"us-ascii\"", "text/plain; format=flowed (comment)", "message/rfc822");

    public static Gen<string> Boundary(int id) =>
        Gen.Select(Gen.Char[BoundaryChars].Array[0, 20], Gen.Bool, (chars, quote) =>
        {
            // Unique and never a prefix of another generated boundary (RFC 2046 §5.1.1 asks senders for that).
            var text = new string(chars).TrimEnd() + $"=_{id}_=";
            return text;
        });

    private static Gen<string> Leaf(int id) =>
        Gen.Select(HeaderName, LeafType, Body, Gen.Bool, (name, type, body, padded) =>
            type == "message/rfc822"
                ? $"{name}: {type}\r\n\r\nFrom: inner@example.com\r\nSubject: inner {id}\r\n\r\n{body}"
                : $"{name}: {type}\r\n{(padded ? "Content-Transfer-Encoding: 7bit\r\n" : "")}\r\n{body}");

    /// <summary>An entity (header block and body) whose multiparts nest at most <paramref name="depth"/> deep.</summary>
    public static Gen<string> Entity(int depth, int id = 1) => depth == 0
        ? Leaf(id)
        : Gen.Frequency((2, Leaf(id)), (3, Multipart(depth, id)));

    private static Gen<string> Multipart(int depth, int id) =>
        Gen.Select(
            HeaderName,
            Gen.OneOf("mixed", "alternative", "related", "Alternative"),
            Boundary(id),
            Children(depth - 1, id),
            Gen.Select(Gen.Int[0, 3], Gen.Int[0, 2], Gen.Int[0, 2], Gen.Bool, (quoting, fold, padding, preamble) => (quoting, fold, padding, preamble)),
            (name, subtype, boundary, children, style) =>
            {
                var quoted = style.quoting != 0 || boundary.Any(c => "()<>@,;:\\\"/[]?= ".Contains(c, StringComparison.Ordinal));
                var parameter = quoted ? $"boundary=\"{boundary}\"" : $"boundary={boundary}";
                var folding = style.fold switch { 1 => "\r\n\t", 2 => "\r\n ", _ => " " };
                var pad = style.padding switch { 1 => " ", 2 => " \t", _ => "" };
                var text = new StringBuilder();
                text.Append($"{name}: multipart/{subtype};{folding}{parameter}\r\n\r\n");
                if (style.preamble)
                {
                    text.Append("This is a preamble.\r\n");
                }

                foreach (var child in children)
                {
                    text.Append($"--{boundary}{pad}\r\n{child}\r\n");
                }

                text.Append($"--{boundary}--{pad}\r\n");
                return text.ToString();
            });

    private static Gen<string[]> Children(int depth, int id)
    {
        Gen<string> Child(int i) => Entity(depth, (id * 4) + i);
        return Gen.Frequency(
            (1, Gen.Const(Array.Empty<string>())),
            (3, Child(0).Select(a => new[] { a })),
            (4, Gen.Select(Child(0), Child(1), (a, b) => new[] { a, b })),
            (3, Gen.Select(Child(0), Child(1), Child(2), (a, b, c) => new[] { a, b, c })));
    }

    /// <summary>A whole message: top-level fields, then the entity.</summary>
    public static Gen<byte[]> Message(int depth) =>
        Entity(depth).Select(entity => Encoding.Latin1.GetBytes($"From: a@example.com\r\nTo: b@example.net\r\nSubject: generated\r\nMIME-Version: 1.0\r\n{entity}"));

    /// <summary>One line-level damage: what real senders and broken gateways do to MIME.</summary>
    public static Gen<Func<List<string>, List<string>>> Mutation =>
        Gen.Frequency(
            (3, Gen.Int.Select(at => (Func<List<string>, List<string>>)(lines => Edit(lines, at, (l, i) => l.RemoveAt(i))))),
            (2, Gen.Int.Select(at => (Func<List<string>, List<string>>)(lines => Edit(lines, at, (l, i) => l.Insert(i, l[i]))))),
            (2, Gen.Select(Gen.Int, Gen.OneOf("", "--", "Content-Type: text/html", "Content-Type: multipart/mixed; boundary=zz", "--zz", "--zz--", " ", "\t x"),
                (at, text) => (Func<List<string>, List<string>>)(lines => Edit(lines, at, (l, i) => l.Insert(i, text))))),
            (2, Gen.Int.Select(at => (Func<List<string>, List<string>>)(lines => Edit(lines, at, (l, i) => l.RemoveRange(i, l.Count - i))))),
            (2, Gen.Select(Gen.Int, Gen.OneOf(" ", "\t", "x", "--"),
                (at, suffix) => (Func<List<string>, List<string>>)(lines => Edit(lines, at, (l, i) => l[i] += suffix)))),
            (1, Gen.Int.Select(at => (Func<List<string>, List<string>>)(lines => Edit(lines, at, (l, i) => l[i] = l[i].ToUpperInvariant())))));

    public static Gen<byte[]> Mutated(int depth) =>
        Gen.Select(Message(depth), Mutation.Array[1, 3], (message, mutations) =>
        {
            var lines = Encoding.Latin1.GetString(message).Split("\r\n").ToList();
            foreach (var mutate in mutations)
            {
                lines = mutate(lines);
            }

            return Encoding.Latin1.GetBytes(string.Join("\r\n", lines));
        });

    private static List<string> Edit(List<string> lines, int at, Action<List<string>, int> edit)
    {
        var copy = new List<string>(lines);
        if (copy.Count > 0)
        {
            edit(copy, (int)((uint)at % (uint)copy.Count));
        }

        return copy;
    }
}
