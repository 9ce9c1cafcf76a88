using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;

namespace SmtpAmpProxy.Normalizer.Scanning;

/// <summary>
/// Decides without building a tree whether a message can hold an AMP part at all.
/// </summary>
/// <remarks>
/// The needle is the subtype token <c>x-amp-html</c>, matched ASCII case-insensitively anywhere in the
/// message. A parser can only report that subtype if these ten bytes stand together in a header:
/// a token has no room for folding whitespace or comments (RFC 2045 section 5.1, RFC 5322 section
/// 3.2.2), encoded-words are not allowed in Content-Type (RFC 2047 section 5), and RFC 2231 encodes
/// parameter values, never type names. No non-ASCII character case-maps onto x, a, m, p, h, t or l,
/// so Unicode case folding cannot smuggle the name either. A match in a body only costs a parse.
/// </remarks>
internal static class AmpFastPath
{
    private static ReadOnlySpan<byte> Needle => "x-amp-html"u8;

    private const byte AsciiLowerBit = 0x20;

    public static bool MayContainAmp(ReadOnlySpan<byte> message) => IndexOfAmpSubtype(message) >= 0;

    /// <summary>Offset of the first case-insensitive <c>x-amp-html</c>, or -1.</summary>
    public static int IndexOfAmpSubtype(ReadOnlySpan<byte> message)
    {
        int n = Needle.Length;
        int lastStart = message.Length - n;
        if (lastStart < 0)
        {
            return -1;
        }

        // Compare the first and the last byte of the needle at once over a whole vector of start
        // positions (OR 0x20 folds ASCII upper case; only 'X'/'x' become 'x' and 'L'/'l' become 'l'),
        // then confirm the rare candidates. Base64 bodies make a candidate about once per 1000 bytes.
        int i = 0;
        ref byte start = ref MemoryMarshal.GetReference(message);
        if (Vector256.IsHardwareAccelerated && lastStart + 1 >= Vector256<byte>.Count)
        {
            var lowerBit = Vector256.Create(AsciiLowerBit);
            var first = Vector256.Create((byte)'x');
            var last = Vector256.Create((byte)'l');
            for (; i <= lastStart + 1 - Vector256<byte>.Count; i += Vector256<byte>.Count)
            {
                var a = Vector256.LoadUnsafe(ref start, (nuint)i) | lowerBit;
                var b = Vector256.LoadUnsafe(ref start, (nuint)(i + n - 1)) | lowerBit;
                uint bits = (Vector256.Equals(a, first) & Vector256.Equals(b, last)).ExtractMostSignificantBits();
                while (bits != 0)
                {
                    int at = i + BitOperations.TrailingZeroCount(bits);
                    if (Ascii.EqualsIgnoreCase(message.Slice(at, n), Needle))
                    {
                        return at;
                    }

                    bits &= bits - 1;
                }
            }
        }
        else if (Vector128.IsHardwareAccelerated && lastStart + 1 >= Vector128<byte>.Count)
        {
            var lowerBit = Vector128.Create(AsciiLowerBit);
            var first = Vector128.Create((byte)'x');
            var last = Vector128.Create((byte)'l');
            for (; i <= lastStart + 1 - Vector128<byte>.Count; i += Vector128<byte>.Count)
            {
                var a = Vector128.LoadUnsafe(ref start, (nuint)i) | lowerBit;
                var b = Vector128.LoadUnsafe(ref start, (nuint)(i + n - 1)) | lowerBit;
                uint bits = (Vector128.Equals(a, first) & Vector128.Equals(b, last)).ExtractMostSignificantBits();
                while (bits != 0)
                {
                    int at = i + BitOperations.TrailingZeroCount(bits);
                    if (Ascii.EqualsIgnoreCase(message.Slice(at, n), Needle))
                    {
                        return at;
                    }

                    bits &= bits - 1;
                }
            }
        }

        for (; i <= lastStart; i++)
        {
            if ((message[i] | AsciiLowerBit) == 'x' && Ascii.EqualsIgnoreCase(message.Slice(i, n), Needle))
            {
                return i;
            }
        }

        return -1;
    }
}
