using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>
/// Reads DATA (RFC 5321 4.1.1.4) as a stream, one chunk at a time, with the position in the line carried
/// across chunks, so no more than one network read is ever held besides the <see cref="MessageBuffer"/>.
/// <para>
/// The data ends ONLY at CRLF "." CRLF, where the first CRLF is a real line end. That is the whole defence
/// against SMTP smuggling (CVE-2023-51764/51765/51766): "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n" and the rest
/// never end the message here, so a second message hidden behind them stays content of the first (a bare
/// CR makes the message refused, or by option is a line end like a bare LF). Dot-unstuffing (4.5.2) applies
/// only to lines that begin after a CRLF; after a bare LF or CR the bytes are content as sent, and the upstream
/// writer stuffs them afresh.
/// </para>
/// <para>
/// Lines longer than 998 octets (RFC 5322 2.1.1; RFC 5321 4.5.3.1.6 allows 1000 with the CRLF) are folded
/// as Postfix's smtp_line_length_limit (998) does when it relays: CRLF and a space are inserted after the 998th
/// octet, so a header line becomes a folded header and MIME boundaries and encoded bodies survive. Passing
/// them on unchanged would let a receiver down the line cut or refuse the message in its own way.
/// </para>
/// </summary>
internal sealed class SmtpDataReader
{
    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    private static ReadOnlySpan<byte> Dot => "."u8;

    private static ReadOnlySpan<byte> Fold => "\r\n "u8;

    /// <summary>RFC 5322 2.1.1: at most 998 characters on a line, not counting the CRLF.</summary>
    internal const int MaxLineOctets = 998;

    private readonly MessageBuffer _sink;
    private readonly long _maxBytes;
    private readonly bool _rejectBareLf;
    private readonly bool _rejectBareCr;
    private readonly int _maxHeaderBytes;
    private State _state = State.LineStart;
    private long _length;
    private bool _headerOpen = true;
    private long _headerBytes;
    private long _headerLineStart;
    private int _lineOctets;

    public SmtpDataReader(MessageBuffer sink, long maxBytes, BareLineFeedPolicy bareLineFeed, int maxHeaderBytes = int.MaxValue,
        BareCarriageReturnPolicy bareCarriageReturn = BareCarriageReturnPolicy.Reject)
    {
        _sink = sink;
        _maxBytes = maxBytes;
        _rejectBareLf = bareLineFeed == BareLineFeedPolicy.Reject;
        _rejectBareCr = bareCarriageReturn == BareCarriageReturnPolicy.Reject;
        _maxHeaderBytes = maxHeaderBytes;
    }

    private enum State : byte
    {
        /// <summary>After a CRLF (or at the start of the data): a dot here may be stuffing or the end.</summary>
        LineStart,

        /// <summary>Inside a line, or at the start of a line that followed a bare LF.</summary>
        Text,

        /// <summary>A CR was seen inside a line; a LF must follow.</summary>
        Cr,

        /// <summary>A dot at a line start.</summary>
        Dot,

        /// <summary>A dot and a CR at a line start: a LF ends the data.</summary>
        DotCr,
    }

    /// <summary>More bytes than the limit were sent; what was stored must not be relayed.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>The top-level header block (up to the first empty line) is longer than the limit; nothing more is stored.</summary>
    public bool HeaderOverflowed { get; private set; }

    /// <summary>A CR not followed by LF was seen while the policy is <see cref="BareCarriageReturnPolicy.Reject"/> (RFC 5321 2.3.8).</summary>
    public bool SawBareCr { get; private set; }

    /// <summary>Folds inserted into lines over <see cref="MaxLineOctets"/> (a line of 2,500 octets takes two).</summary>
    public int Folds { get; private set; }

    /// <summary>A LF not preceded by CR was seen while the policy is <see cref="BareLineFeedPolicy.Reject"/>.</summary>
    public bool SawRejectedBareLf { get; private set; }

    /// <summary>Bytes the sender sent for the message (after unstuffing), stored or not.</summary>
    public long MessageBytes => _length;

    /// <summary>Feeds one chunk. Returns true when the end of data was found; <paramref name="consumed"/> then counts the terminator too.</summary>
    public bool Process(ReadOnlySpan<byte> input, out int consumed)
    {
        var i = 0;
        while (i < input.Length)
        {
            switch (_state)
            {
                case State.LineStart:
                    if (input[i] == (byte)'.')
                    {
                        i++;
                        _state = State.Dot;
                    }
                    else
                    {
                        _state = State.Text;
                    }

                    break;

                case State.Text:
                {
                    var rest = input[i..];
                    var stop = rest.IndexOfAny((byte)'\r', (byte)'\n');
                    if (stop < 0)
                    {
                        Emit(rest);
                        i = input.Length;
                        break;
                    }

                    if (rest[stop] == (byte)'\r' && stop + 1 < rest.Length && rest[stop + 1] == (byte)'\n')
                    {
                        // The common case: a whole line with its CRLF in one write.
                        Emit(rest[..(stop + 2)]);
                        i += stop + 2;
                        _state = State.LineStart;
                        break;
                    }

                    Emit(rest[..stop]);
                    i += stop + 1;
                    if (rest[stop] == (byte)'\r')
                    {
                        _state = State.Cr;
                    }
                    else
                    {
                        OnBareLf();
                    }

                    break;
                }

                case State.Cr:
                    if (input[i] == (byte)'\n')
                    {
                        i++;
                        Emit(Crlf);
                        _state = State.LineStart;
                    }
                    else
                    {
                        // Bare CR: the byte after it is processed as text.
                        OnBareCr();
                    }

                    break;

                case State.Dot:
                    if (input[i] == (byte)'\r')
                    {
                        i++;
                        _state = State.DotCr;
                    }
                    else if (input[i] == (byte)'\n')
                    {
                        // ".\n" is not the end; the lone dot is content (nothing else is on the line to unstuff).
                        Emit(Dot);
                        _state = State.Text;
                    }
                    else
                    {
                        // Stuffed dot (4.5.2): dropped; the rest of the line is text.
                        _state = State.Text;
                    }

                    break;

                case State.DotCr:
                    if (input[i] == (byte)'\n')
                    {
                        consumed = i + 1;
                        _state = State.LineStart;
                        return true;
                    }

                    Emit(Dot);
                    OnBareCr();
                    break;
            }
        }

        consumed = input.Length;
        return false;
    }

    private void OnBareCr()
    {
        if (_rejectBareCr)
        {
            SawBareCr = true;
        }
        else
        {
            // Normalize: a line end stored as CRLF; as after a bare LF, the next line cannot end the data.
            Emit(Crlf);
        }

        _state = State.Text;
    }

    private void OnBareLf()
    {
        if (_rejectBareLf)
        {
            SawRejectedBareLf = true;
        }

        // Normalize: the LF ends the line and is stored as CRLF, but the next line is not a line start for
        // the terminator: only CRLF "." CRLF ends the data.
        Emit(Crlf);
        _state = State.Text;
    }

    /// <summary>Stores text that holds no line end except, perhaps, one CRLF at its very end; folds long lines.</summary>
    private void Emit(ReadOnlySpan<byte> bytes)
    {
        var endsLine = bytes.EndsWith(Crlf);
        var text = endsLine ? bytes[..^2] : bytes;
        if (_lineOctets + text.Length > MaxLineOctets)
        {
            do
            {
                var take = MaxLineOctets - _lineOctets;
                Store(text[..take]);
                Store(Fold);
                Folds++;
                _lineOctets = 1;
                text = text[take..];
            }
            while (_lineOctets + text.Length > MaxLineOctets);

            Store(text);
            _lineOctets += text.Length;
            if (endsLine)
            {
                Store(Crlf);
                _lineOctets = 0;
            }

            return;
        }

        Store(bytes);
        _lineOctets = endsLine ? 0 : _lineOctets + bytes.Length;
    }

    private void Store(ReadOnlySpan<byte> bytes)
    {
        _length += bytes.Length;
        if (_headerOpen)
        {
            CountHeader(bytes);
        }

        if (Overflowed || HeaderOverflowed)
        {
            return;
        }

        if (_length > _maxBytes)
        {
            // Stop storing at once; the caller keeps reading (and discarding) to the real end, then says 552.
            Overflowed = true;
            return;
        }

        _sink.Write(bytes);
    }

    /// <summary>
    /// Counts the top-level header block, the bytes before the first empty line, as Postfix's header_size_limit
    /// does. Emitted lines always end in CRLF here, so a line of exactly two bytes is the empty line. Only the
    /// header is scanned; after it this costs one flag test per write.
    /// </summary>
    private void CountHeader(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var lf = bytes.IndexOf((byte)'\n');
            var take = lf < 0 ? bytes.Length : lf + 1;
            if (lf >= 0 && _headerBytes + take - _headerLineStart == 2)
            {
                _headerOpen = false;
                return;
            }

            _headerBytes += take;
            if (_headerBytes > _maxHeaderBytes)
            {
                HeaderOverflowed = true;
                _headerOpen = false;
                return;
            }

            if (lf >= 0)
            {
                _headerLineStart = _headerBytes;
            }

            bytes = bytes[take..];
        }
    }
}
