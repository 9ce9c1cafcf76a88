using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace SmtpAmpProxy.Dkim;

/// <summary>The "relaxed" header canonicalization of RFC 6376 §3.4.2.</summary>
internal static class RelaxedHeader
{
    /// <summary>
    /// Appends <c>name:value</c> with the name in lower case, the value unfolded, white-space runs
    /// reduced to one SP, white space around the colon and at the end removed. With
    /// <paramref name="crlf"/> false the final CRLF is left out, as for the DKIM-Signature field
    /// itself (§3.7).
    /// </summary>
    public static void Append(IBufferWriter<byte> output, string lowerCaseName, ReadOnlySpan<byte> value, bool crlf = true)
    {
        DkimWork.Add(lowerCaseName.Length + value.Length);
        var nameBytes = Encoding.Latin1.GetBytes(lowerCaseName);
        output.Write(nameBytes);
        output.Write(":"u8);
        var pendingSpace = false;
        var started = false;
        foreach (var b in value)
        {
            switch (b)
            {
                case (byte)'\r' or (byte)'\n':
                    // Unfolding removes the line break; the white space after it remains.
                    break;
                case (byte)' ' or (byte)'\t':
                    pendingSpace = started;
                    break;
                default:
                    if (pendingSpace)
                    {
                        output.Write(" "u8);
                        pendingSpace = false;
                    }

                    output.Write(new ReadOnlySpan<byte>(in b));
                    started = true;
                    break;
            }
        }

        if (crlf)
        {
            output.Write("\r\n"u8);
        }
    }

    public static byte[] Canonicalize(string lowerCaseName, ReadOnlySpan<byte> value, bool crlf = true)
    {
        var output = new ArrayBufferWriter<byte>(lowerCaseName.Length + value.Length + 3);
        Append(output, lowerCaseName, value, crlf);
        return output.WrittenSpan.ToArray();
    }
}

/// <summary>
/// SHA-256 of a body under the "relaxed" body canonicalization of RFC 6376 §3.4.4, fed in pieces of
/// any size so a body held in many segments is hashed without being copied or joined: white-space
/// runs become one SP, white space at line ends goes, empty lines at the end are ignored, and a
/// non-empty body ends with CRLF. An empty body hashes as the empty string (RFC 6376 erratum 3192).
/// </summary>
internal sealed class RelaxedBodyHasher : IDisposable
{
    // Runs of ordinary bytes are appended in bulk; the buffer batches the many small writes that
    // white-space reduction produces, so the hash is not called once per word.
    private const int BufferSize = 16 * 1024;

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _buffered;
    private long _pendingLineBreaks;
    private bool _pendingSpace;
    private bool _pendingCarriageReturn;
    private bool _anyContent;

    public static byte[] Hash(IEnumerable<ReadOnlyMemory<byte>> body)
    {
        using var hasher = new RelaxedBodyHasher();
        foreach (var piece in body)
        {
            hasher.Append(piece.Span);
        }

        return hasher.Finish();
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_pendingCarriageReturn)
            {
                _pendingCarriageReturn = false;
                if (data[0] == '\n')
                {
                    EndLine();
                    data = data[1..];
                    continue;
                }

                // A CR not followed by LF is not a line break; it is content (bare CRs are refused
                // by the SMTP server, so this only keeps the hash faithful to what is there).
                Content("\r"u8);
            }

            var special = data.IndexOfAny((byte)' ', (byte)'\t', (byte)'\r');
            var run = special < 0 ? data : data[..special];
            DkimWork.Add(1 + run.Length);
            if (!run.IsEmpty)
            {
                Content(run);
            }

            if (special < 0)
            {
                return;
            }

            if (data[special] == '\r')
            {
                _pendingCarriageReturn = true;
            }
            else
            {
                _pendingSpace = true;
            }

            data = data[(special + 1)..];
        }
    }

    public byte[] Finish()
    {
        if (_pendingCarriageReturn)
        {
            _pendingCarriageReturn = false;
            Content("\r"u8);
        }

        // A last line without CRLF gets one; any number of empty lines at the end count as none.
        if (_anyContent)
        {
            Write("\r\n"u8);
        }

        Flush();
        return _hash.GetHashAndReset();
    }

    public void Dispose() => _hash.Dispose();

    private void EndLine()
    {
        DkimWork.Add(1);
        // Trailing white space on a line is dropped; the line break waits until more content proves
        // it is not one of the ignored empty lines at the end.
        _pendingSpace = false;
        _pendingLineBreaks++;
    }

    private void Content(ReadOnlySpan<byte> bytes)
    {
        DkimWork.Add(_pendingLineBreaks);
        for (; _pendingLineBreaks > 0; _pendingLineBreaks--)
        {
            Write("\r\n"u8);
        }

        if (_pendingSpace)
        {
            Write(" "u8);
            _pendingSpace = false;
        }

        Write(bytes);
        _anyContent = true;
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length - _buffered)
        {
            Flush();
            if (bytes.Length > _buffer.Length)
            {
                _hash.AppendData(bytes);
                return;
            }
        }

        bytes.CopyTo(_buffer.AsSpan(_buffered));
        _buffered += bytes.Length;
    }

    private void Flush()
    {
        _hash.AppendData(_buffer, 0, _buffered);
        _buffered = 0;
    }
}
