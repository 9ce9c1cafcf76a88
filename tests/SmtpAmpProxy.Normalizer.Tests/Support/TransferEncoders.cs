using System.Text;

namespace SmtpAmpProxy.Normalizer.Tests.Support;

/// <summary>Encoders for building base64 and quoted-printable test parts (RFC 2045 sections 6.7, 6.8).</summary>
internal static class TransferEncoders
{
    public static string Base64(byte[] bytes) =>
        Convert.ToBase64String(bytes, Base64FormattingOptions.InsertLineBreaks);

    /// <summary>Quoted-printable with CRLF hard breaks kept and soft breaks every 76 characters.</summary>
    public static string QuotedPrintable(byte[] bytes, int lineLength = 76)
    {
        var text = new StringBuilder();
        int column = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            byte b = bytes[i];
            if (b == '\r' && i + 1 < bytes.Length && bytes[i + 1] == '\n')
            {
                text.Append("\r\n");
                column = 0;
                i++;
                continue;
            }

            bool atLineEnd = i + 1 == bytes.Length || bytes[i + 1] == '\r';
            string piece = (b is >= 33 and <= 126 && b != '=') || (b is (byte)' ' or (byte)'\t' && !atLineEnd)
                ? ((char)b).ToString()
                : $"={b:X2}";
            if (column + piece.Length > lineLength - 1)
            {
                text.Append("=\r\n");
                column = 0;
            }

            text.Append(piece);
            column += piece.Length;
        }

        return text.ToString();
    }
}
