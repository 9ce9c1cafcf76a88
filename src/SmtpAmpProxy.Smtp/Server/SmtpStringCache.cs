using System.Text;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// The last few MAIL/RCPT strings of one session, keyed by their bytes. A legacy sender that keeps its
/// connection open sends the same sender, recipients and parameters message after message, so after the
/// first transaction those commands parse without allocating. One per session: not thread-safe.
/// </summary>
internal sealed class SmtpStringCache
{
    // A sender, a few recipients and the MAIL parameters cover the repeating case; more slots would only
    // lengthen the search for senders whose recipients change every message.
    private const int Slots = 8;

    // RFC 5321 4.5.3.1.3: a path is at most 256 octets; longer strings are not worth keeping.
    private const int MaxBytes = 512;

    private readonly byte[][] _bytes = new byte[Slots][];
    private readonly string[] _values = new string[Slots];
    private int _next;

    /// <summary>The MAIL parameters last parsed, reused while the raw parameter text repeats.</summary>
    public MailParameters? LastMailParameters { get; set; }

    /// <summary>The string for these bytes (UTF-8, already validated by the parser).</summary>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return string.Empty;
        }

        for (var i = 0; i < Slots; i++)
        {
            if (_bytes[i] is { } bytes && utf8.SequenceEqual(bytes))
            {
                return _values[i];
            }
        }

        // A miss allocates the string anyway; its bytes beside it cost one more small array.
        var created = Encoding.UTF8.GetString(utf8);
        if (utf8.Length <= MaxBytes)
        {
            _bytes[_next] = utf8.ToArray();
            _values[_next] = created;
            _next = (_next + 1) % Slots;
        }

        return created;
    }
}
