using System.Buffers;
using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Normalizer.Rules;

namespace SmtpAmpProxy.Normalizer.Documents;

/// <summary>
/// The AMP part's document as UTF-8 bytes: its transfer encoding undone and its charset read.
/// </summary>
/// <remarks>
/// A 7bit/8bit/binary UTF-8 part is read in place; only base64, quoted-printable and Latin-1 need a
/// copy, and then of this one part only (rented, returned on Dispose). The AMP for Email format
/// requires UTF-8 (<c>&lt;meta charset="utf-8"&gt;</c>), so the document is measured and scanned as
/// UTF-8, which is also how the AMP validator counts bytes.
/// </remarks>
internal sealed class AmpDocumentText : IDisposable
{
    private byte[]? _rented;

    private AmpDocumentText(ReadOnlyMemory<byte> bytes, byte[]? rented, string? note)
    {
        Bytes = bytes;
        _rented = rented;
        Note = note;
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>How the text was read when it could not be read as labelled, for the findings; else null.</summary>
    public string? Note { get; }

    public static AmpDocumentText Decode(MimeEntity part)
    {
        var body = part.BodyBytes;
        byte[]? rented = null;
        string? note = null;
        switch (part.TransferEncoding)
        {
            case "base64":
                rented = ArrayPool<byte>.Shared.Rent(body.Length / 4 * 3 + 3);
                body = rented.AsMemory(0, TransferDecoding.DecodeBase64(body.Span, rented));
                break;
            case "quoted-printable":
                rented = ArrayPool<byte>.Shared.Rent(Math.Max(body.Length, 1));
                body = rented.AsMemory(0, TransferDecoding.DecodeQuotedPrintable(body.Span, rented));
                break;
            case null or "7bit" or "8bit" or "binary":
                break;
            default:
                note = $"unknown transfer encoding {ReplyText.Name(part.TransferEncoding)} read as 8bit";
                break;
        }

        string? charset = part.ContentType.GetParameter("charset")?.Trim().ToLowerInvariant();
        switch (charset)
        {
            // No charset: RFC 2045's default is US-ASCII, a subset of UTF-8.
            case null or "" or "utf-8" or "utf8" or "us-ascii" or "ascii":
                break;
            case "iso-8859-1" or "iso_8859-1" or "latin1" or "latin-1" or "l1":
                int high = CountHighBytes(body.Span);
                if (high > 0)
                {
                    var utf8 = ArrayPool<byte>.Shared.Rent(body.Length + high);
                    int length = TransferDecoding.Latin1ToUtf8(body.Span, utf8);
                    Return(rented);
                    rented = utf8;
                    body = utf8.AsMemory(0, length);
                }

                break;
            default:
                string read = $"charset {ReplyText.Name(charset)} read as UTF-8";
                note = note is null ? read : $"{note}, {read}";
                break;
        }

        return new AmpDocumentText(body, rented, note);
    }

    public void Dispose()
    {
        Return(_rented);
        _rented = null;
    }

    private static void Return(byte[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static int CountHighBytes(ReadOnlySpan<byte> bytes)
    {
        int count = 0;
        int i = bytes.IndexOfAnyInRange((byte)0x80, (byte)0xFF);
        while (i >= 0)
        {
            count++;
            bytes = bytes[(i + 1)..];
            i = bytes.IndexOfAnyInRange((byte)0x80, (byte)0xFF);
        }

        return count;
    }
}
