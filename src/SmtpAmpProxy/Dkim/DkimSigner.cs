using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace SmtpAmpProxy.Dkim;

/// <summary>
/// RFC 6376 signing: rsa-sha256, relaxed/relaxed. Returns the DKIM-Signature field to prepend to
/// the message; the body is hashed by streaming over the segments, never joined.
/// </summary>
internal static class DkimSigner
{
    /// <summary>
    /// The fields that carry the message's meaning to a reader or a mail client; trace and
    /// transport fields are left out because relays add or change them on the way (RFC 6376 §5.4.1).
    /// </summary>
    public static readonly IReadOnlyList<string> SignedFields =
    [
        "from", "to", "cc", "subject", "date", "message-id", "reply-to", "mime-version", "content-type",
        "content-transfer-encoding", "in-reply-to", "references", "list-unsubscribe", "list-unsubscribe-post",
        "feedback-id",
    ];

    // Lines of the field stay within the 78 characters RFC 5322 §2.1.1 recommends.
    private const int LineWidth = 78;

    /// <summary>The complete <c>DKIM-Signature: …\r\n</c> field for <paramref name="message"/>, signed with <paramref name="key"/>.</summary>
    public static byte[] Sign(IReadOnlyList<ReadOnlyMemory<byte>> message, DkimKey key, DateTimeOffset timestamp)
    {
        var headers = HeaderBlock.Read(message);
        var total = MessageSegments.TotalLength(message);
        var bodyHash = RelaxedBodyHasher.Hash(MessageSegments.Slice(message, headers.BodyStart, total - headers.BodyStart));

        var (names, signedFields) = SelectFields(headers);
        var field = new FieldBuilder("DKIM-Signature:");
        field.Append(" v=1;");
        field.Append(" a=rsa-sha256;");
        field.Append(" c=relaxed/relaxed;");
        field.Append($" d={key.Domain};");
        field.Append($" s={key.Selector};");
        field.Append($" t={timestamp.ToUnixTimeSeconds()};");
        for (var i = 0; i < names.Count; i++)
        {
            field.Append((i == 0 ? " h=" : "") + names[i] + (i == names.Count - 1 ? ";" : ":"));
        }

        field.Append($" bh={Convert.ToBase64String(bodyHash)};");
        field.Fold();
        field.Append("b=");

        // RFC 6376 §3.7: the selected fields in h= order, then this field with an empty b= and no
        // final CRLF, all canonicalized; the signature covers exactly what the verifier rebuilds.
        var signedData = new ArrayBufferWriter<byte>(1024);
        foreach (var selected in signedFields)
        {
            if (selected is { } f)
            {
                RelaxedHeader.Append(signedData, f.Name, headers.Value(f));
            }
        }

        var unsigned = Encoding.ASCII.GetBytes(field.ToString());
        RelaxedHeader.Append(signedData, DkimSignatureScanner.FieldName, unsigned.AsSpan("DKIM-Signature:".Length), crlf: false);
        var signature = key.Rsa.SignData(signedData.WrittenSpan, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

        // FWS may appear anywhere in the base64 of b= (§3.5); verifiers remove it before decoding.
        field.AppendBreakable(Convert.ToBase64String(signature));
        return Encoding.ASCII.GetBytes(field + "\r\n");
    }

    /// <summary>
    /// The h= list and, for each entry, the field it covers. A name that occurs n times is listed n
    /// times, taken from the bottom up (§5.4.2). "from" is listed once more than it occurs: the
    /// extra entry covers no field, so a From added later breaks the signature instead of being
    /// shown as the sender (§8.15).
    /// </summary>
    private static (List<string> Names, List<HeaderField?> Fields) SelectFields(HeaderBlock headers)
    {
        var names = new List<string>();
        var fields = new List<HeaderField?>();
        foreach (var name in SignedFields)
        {
            var present = headers.Fields.Where(f => f.Name == name).Reverse().ToList();
            DkimWork.Add(headers.Fields.Count);
            foreach (var field in present)
            {
                names.Add(name);
                fields.Add(field);
            }

            if (name == "from")
            {
                names.Add(name);
                fields.Add(null);
            }
        }

        return (names, fields);
    }

    /// <summary>Folds at the spaces between tags (and inside b=) to keep lines within <see cref="LineWidth"/>.</summary>
    private sealed class FieldBuilder(string start)
    {
        private readonly StringBuilder _text = new(start);
        private int _lineLength = start.Length;

        /// <summary>Appends a piece; if it does not fit, a fold (CRLF TAB) comes before it in place of its leading space.</summary>
        public void Append(string piece)
        {
            if (_lineLength + piece.Length > LineWidth && _lineLength > 1)
            {
                var body = piece.TrimStart(' ');
                _text.Append("\r\n\t").Append(body);
                _lineLength = 1 + body.Length;
                return;
            }

            _text.Append(piece);
            _lineLength += piece.Length;
        }

        /// <summary>Starts a continuation line.</summary>
        public void Fold()
        {
            _text.Append("\r\n\t");
            _lineLength = 1;
        }

        /// <summary>Appends a long token, folding inside it wherever the line is full.</summary>
        public void AppendBreakable(string token)
        {
            while (token.Length > 0)
            {
                var room = LineWidth - _lineLength;
                if (room <= 0)
                {
                    Fold();
                    continue;
                }

                var take = Math.Min(room, token.Length);
                _text.Append(token, 0, take);
                _lineLength += take;
                token = token[take..];
            }
        }

        public override string ToString() => _text.ToString();
    }
}
