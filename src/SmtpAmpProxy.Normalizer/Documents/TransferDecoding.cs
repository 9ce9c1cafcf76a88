namespace SmtpAmpProxy.Normalizer.Documents;

/// <summary>Tolerant decoders for the two transfer encodings of RFC 2045 (sections 6.7 and 6.8).</summary>
internal static class TransferDecoding
{
    private static readonly sbyte[] Base64Values = BuildBase64Values();

    /// <summary>
    /// Characters outside the base64 alphabet (line breaks, spaces, garbage) are skipped, as RFC 2045
    /// section 6.8 tells decoders to; the first '=' ends the data. <paramref name="output"/> needs
    /// room for 3/4 of the input plus 3 bytes.
    /// </summary>
    public static int DecodeBase64(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int written = 0, bits = 0, count = 0;
        foreach (byte b in input)
        {
            if (b == '=')
            {
                break;
            }

            int value = Base64Values[b];
            if (value < 0)
            {
                continue;
            }

            bits = (bits << 6) | value;
            if (++count == 4)
            {
                output[written++] = (byte)(bits >> 16);
                output[written++] = (byte)(bits >> 8);
                output[written++] = (byte)bits;
                bits = 0;
                count = 0;
            }
        }

        // A final group of 2 or 3 characters carries 1 or 2 bytes; a lone character carries none.
        if (count == 2)
        {
            output[written++] = (byte)(bits >> 4);
        }
        else if (count == 3)
        {
            output[written++] = (byte)(bits >> 10);
            output[written++] = (byte)(bits >> 2);
        }

        return written;
    }

    /// <summary>
    /// RFC 2045 section 6.7: "=XX" is a byte, "=" before a line break is a soft break, white space a
    /// transport added at a line end is removed, and anything malformed is kept as it stands.
    /// <paramref name="output"/> needs room for the whole input.
    /// </summary>
    public static int DecodeQuotedPrintable(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int written = 0, lineStart = 0, kept = 0;
        for (int i = 0; i < input.Length; i++)
        {
            byte b = input[i];
            if (b == '=')
            {
                int hi = i + 2 < input.Length ? HexValue(input[i + 1]) : -1;
                int lo = hi >= 0 ? HexValue(input[i + 2]) : -1;
                if (lo >= 0)
                {
                    output[written++] = (byte)((hi << 4) | lo);
                    kept = written;
                    i += 2;
                    continue;
                }

                int j = i + 1;
                while (j < input.Length && input[j] is (byte)' ' or (byte)'\t')
                {
                    j++;
                }

                if (j == input.Length || input[j] == '\n' || (input[j] == '\r' && j + 1 < input.Length && input[j + 1] == '\n'))
                {
                    // A space before the '=' is data (the '=' protects it); only what follows is padding.
                    i = j < input.Length && input[j] == '\r' ? j + 1 : j;
                    lineStart = written;
                    kept = written;
                    continue;
                }
            }
            else if (b == '\n')
            {
                bool cr = written > lineStart && output[written - 1] == '\r';
                written = TrimLineEnd(output, cr ? written - 1 : written, Math.Max(lineStart, kept));
                if (cr)
                {
                    output[written++] = (byte)'\r';
                }

                output[written++] = (byte)'\n';
                lineStart = written;
                kept = written;
                continue;
            }

            output[written++] = b;
        }

        return written;
    }

    /// <summary>Each byte of ISO-8859-1 is the code point of the same number; 0x80-0xFF take two UTF-8 bytes.</summary>
    public static int Latin1ToUtf8(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int written = 0;
        foreach (byte b in input)
        {
            if (b < 0x80)
            {
                output[written++] = b;
            }
            else
            {
                output[written++] = (byte)(0xC0 | (b >> 6));
                output[written++] = (byte)(0x80 | (b & 0x3F));
            }
        }

        return written;
    }

    private static int TrimLineEnd(Span<byte> output, int written, int floor)
    {
        while (written > floor && output[written - 1] is (byte)' ' or (byte)'\t')
        {
            written--;
        }

        return written;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        _ => -1,
    };

    private static sbyte[] BuildBase64Values()
    {
        var values = new sbyte[256];
        Array.Fill(values, (sbyte)-1);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < alphabet.Length; i++)
        {
            values[alphabet[i]] = (sbyte)i;
        }

        return values;
    }
}
