namespace SmtpAmpProxy.Smtp.Client;

/// <summary>
/// Streaming DATA encoder (RFC 5321 4.5.2): every line end made CRLF, a '.' at the start of any line
/// doubled, and the end-of-data marker appended. State (beginning of line, a CR waiting for its LF)
/// carries across chunks, so content is encoded segment by segment without ever being joined.
/// Because a bare CR or LF never reaches the upstream and every line-initial dot is doubled, nothing in
/// the content can end the upstream DATA early (SMTP smuggling).
/// </summary>
internal struct DataEncoder
{
    /// <summary>Output space that <see cref="Complete"/> may need: CRLF "." CRLF.</summary>
    public const int MaxTrailerBytes = 5;

    private bool _midLine;
    private bool _pendingCr;

    /// <summary>
    /// Encodes as much of <paramref name="input"/> as fits in <paramref name="output"/>.
    /// Stops when the input is used up or fewer than two output bytes remain.
    /// </summary>
    public void Encode(ReadOnlySpan<byte> input, Span<byte> output, out int consumed, out int written)
    {
        int i = 0;
        int o = 0;
        while (i < input.Length && output.Length - o >= 2)
        {
            if (_pendingCr)
            {
                // CR LF, or a bare CR: either way one canonical line end.
                output[o++] = (byte)'\r';
                output[o++] = (byte)'\n';
                _pendingCr = false;
                _midLine = false;
                if (input[i] == (byte)'\n')
                {
                    i++;
                }

                continue;
            }

            byte b = input[i];
            if (b == (byte)'\r')
            {
                _pendingCr = true;
                i++;
                continue;
            }

            if (b == (byte)'\n')
            {
                output[o++] = (byte)'\r';
                output[o++] = (byte)'\n';
                _midLine = false;
                i++;
                continue;
            }

            if (!_midLine && b == (byte)'.')
            {
                output[o++] = (byte)'.';
                output[o++] = (byte)'.';
                _midLine = true;
                i++;
                continue;
            }

            // The common case: a run of ordinary bytes copied in one go.
            int run = input[i..].IndexOfAny((byte)'\r', (byte)'\n');
            if (run < 0)
            {
                run = input.Length - i;
            }

            run = Math.Min(run, output.Length - o);
            input.Slice(i, run).CopyTo(output[o..]);
            i += run;
            o += run;
            _midLine = true;
        }

        consumed = i;
        written = o;
    }

    /// <summary>Ends the content: a CRLF if the content did not end with one, then "." CRLF.</summary>
    public int Complete(Span<byte> output)
    {
        int o = 0;
        if (_pendingCr || _midLine)
        {
            output[o++] = (byte)'\r';
            output[o++] = (byte)'\n';
        }

        output[o++] = (byte)'.';
        output[o++] = (byte)'\r';
        output[o++] = (byte)'\n';
        _pendingCr = false;
        _midLine = false;
        return o;
    }
}
