using System.Text;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Smtp.Tests.Server;

public sealed class SmtpDataReaderTests
{
    private sealed record Outcome(bool Ended, int Consumed, string Stored, bool BareCr, bool BareLf, bool Overflowed);

    [Theory]
    [InlineData("a\r\n.\r\n", "a\r\n")]
    [InlineData(".\r\n", "")]
    [InlineData("..\r\n.\r\n", ".\r\n")]
    [InlineData("..x\r\n.\r\n", ".x\r\n")]
    [InlineData(".x\r\n.\r\n", "x\r\n")]
    [InlineData("a\r\n\r\n.\r\n", "a\r\n\r\n")]
    [InlineData("a\r\n. \r\n.\r\n", "a\r\n \r\n")]
    [InlineData("a.\r\n.\r\n", "a.\r\n")]
    public void Process_WellFormed_UnstuffsAndEndsAtCrlfDotCrlf(string input, string expected)
    {
        var outcome = Run(input);
        Assert.True(outcome.Ended);
        Assert.Equal(input.Length, outcome.Consumed);
        Assert.Equal(expected, outcome.Stored);
        Assert.False(outcome.BareCr);
    }

    [Fact]
    public void Process_BytesAfterTerminator_AreNotConsumed()
    {
        var outcome = Run("a\r\n.\r\nQUIT\r\n");
        Assert.True(outcome.Ended);
        Assert.Equal("a\r\n.\r\n".Length, outcome.Consumed);
    }

    // Each variant is followed by a real end so the reader finishes; none of them may end the data first.
    [Theory]
    [InlineData("a\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", false)]
    [InlineData("a\n.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", false)]
    [InlineData("a\r\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", false)]
    [InlineData("a\r.\rb\r\n.\r\n", null, true)]
    [InlineData("a\r.\nb\r\n.\r\n", null, true)]
    [InlineData("a\n.\rb\r\n.\r\n", null, true)]
    [InlineData("a\r.\r\nb\r\n.\r\n", null, true)]
    [InlineData("a\r\n.\rb\r\n.\r\n", null, true)]
    [InlineData("a\r\n\0.\r\nb\r\n.\r\n", "a\r\n\0.\r\nb\r\n", false)]
    public void Process_SmugglingVariant_DoesNotEndData(string input, string? expected, bool bareCr)
    {
        var outcome = Run(input);
        Assert.True(outcome.Ended);
        Assert.Equal(input.Length, outcome.Consumed);
        Assert.Equal(bareCr, outcome.BareCr);
        if (expected is not null)
        {
            Assert.Equal(expected, outcome.Stored);
        }
    }

    [Theory]
    [InlineData("a\n.\n")]
    [InlineData("a\r.\r")]
    [InlineData("a\r.\n")]
    [InlineData("a\n.\r")]
    [InlineData("a\n.\r\n")]
    [InlineData("a\r\n.\n")]
    [InlineData("a\r.\r\n")]
    [InlineData("a\r\n.\r")]
    [InlineData("a\r\n\0.\r\n")]
    public void Process_SmugglingVariantAlone_NeverEnds(string input) =>
        Assert.False(Run(input).Ended);

    [Fact]
    public void Process_BareLfNormalize_StoresCrlfAndDoesNotFlag()
    {
        var outcome = Run("a\nb\r\n.\r\n");
        Assert.Equal("a\r\nb\r\n", outcome.Stored);
        Assert.False(outcome.BareLf);
    }

    [Fact]
    public void Process_BareLfReject_Flags()
    {
        var outcome = Run("a\nb\r\n.\r\n", BareLineFeedPolicy.Reject);
        Assert.True(outcome.Ended);
        Assert.True(outcome.BareLf);
    }

    [Fact]
    public void Process_LineAfterBareLf_IsNotUnstuffed()
    {
        Assert.Equal("a\r\n..b\r\n", Run("a\n..b\r\n.\r\n").Stored);
    }

    [Fact]
    public void Process_OverLimit_StopsStoringButReadsToEnd()
    {
        var body = string.Concat(Enumerable.Repeat("0123456789\r\n", 10));
        var outcome = Run(body + ".\r\n", maxBytes: 50);
        Assert.True(outcome.Ended);
        Assert.True(outcome.Overflowed);
        Assert.True(outcome.Stored.Length <= 50);
    }

    [Fact]
    public void Process_ExactlyAtLimit_IsNotOverflow()
    {
        var outcome = Run("0123456789\r\n.\r\n", maxBytes: 12);
        Assert.False(outcome.Overflowed);
        Assert.Equal("0123456789\r\n", outcome.Stored);
    }

    public static TheoryData<string> SplitInputs =>
    [
        "Subject: x\r\n\r\n..a\r\n.b\r\nline\r\n.\r\n",
        "a\n.\r\nb\r\n.\r\n",
        "a\r.\r\nb\r\n.\r\n",
        "x\r\n.\r",
        "\r\n.\n.\r\n",
    ];

    [Theory]
    [MemberData(nameof(SplitInputs))]
    public void Process_AnyChunking_GivesSameResult(string input)
    {
        var whole = Run(input);
        for (var split = 1; split < input.Length; split++)
        {
            Assert.Equal(whole, Run(input, chunks: [split]));
        }

        Assert.Equal(whole, Run(input, chunks: [.. Enumerable.Range(1, input.Length)]));
    }

    [Theory]
    [InlineData("a\rb\r\n.\r\n", "a\r\nb\r\n")]
    [InlineData("a\r\rb\r\n.\r\n", "a\r\n\r\nb\r\n")]
    [InlineData("a\r.\rb\r\n.\r\n", "a\r\n.\r\nb\r\n")]
    [InlineData("a\r\n.\rb\r\n.\r\n", "a\r\n.\r\nb\r\n")]
    [InlineData("a\r.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n")]
    public void Process_BareCrNormalized_IsALineEndThatNeverEndsTheData(string input, string expected)
    {
        foreach (var chunks in new[] { Array.Empty<int>(), Enumerable.Range(1, input.Length).ToArray() })
        {
            var outcome = Run(input, chunks: chunks, bareCr: BareCarriageReturnPolicy.Normalize);
            Assert.True(outcome.Ended);
            Assert.Equal(input.Length, outcome.Consumed);
            Assert.Equal(expected, outcome.Stored);
            Assert.False(outcome.BareCr);
        }
    }

    [Theory]
    [InlineData(998, 0)]
    [InlineData(999, 1)]
    [InlineData(1996, 2)]
    [InlineData(5000, 5)]
    public void Process_LineOver998Octets_FoldedWithCrlfSpaceAfterEach998(int length, int folds)
    {
        var line = string.Concat(Enumerable.Range(0, length).Select(i => (char)('a' + (i % 26))));
        var input = "Subject: long\r\n\r\n" + line + "\r\nshort\r\n.\r\n";
        foreach (var chunks in new[] { Array.Empty<int>(), Enumerable.Range(1, input.Length / 7).Select(i => i * 7).ToArray() })
        {
            var outcome = Run(input, chunks: chunks);
            Assert.True(outcome.Ended);
            var lines = outcome.Stored.Split("\r\n");
            Assert.All(lines, l => Assert.InRange(l.Length, 0, SmtpDataReader.MaxLineOctets));
            Assert.Equal(folds, lines.Count(l => l.StartsWith(' ')));
            Assert.Equal("Subject: long\r\n\r\n" + line + "\r\nshort\r\n", outcome.Stored.Replace("\r\n ", "", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Process_LongLineOfDots_FoldsNeverStartALineWithADot()
    {
        var line = new string('.', 3000);
        var outcome = Run("x" + line + "\r\n.\r\n");
        Assert.All(outcome.Stored.Split("\r\n"), l => Assert.False(l.StartsWith('.')));
    }

    private static Outcome Run(string input, BareLineFeedPolicy policy = BareLineFeedPolicy.Normalize, long maxBytes = 1 << 20, int[]? chunks = null,
        BareCarriageReturnPolicy bareCr = BareCarriageReturnPolicy.Reject)
    {
        var bytes = Encoding.ASCII.GetBytes(input);
        using var buffer = new MessageBuffer(1 << 16);
        var reader = new SmtpDataReader(buffer, maxBytes, policy, bareCarriageReturn: bareCr);
        var cuts = (chunks ?? []).Where(c => c < bytes.Length).Append(bytes.Length).Distinct().Order().ToArray();
        var start = 0;
        var consumed = 0;
        var ended = false;
        foreach (var cut in cuts)
        {
            ended = reader.Process(bytes.AsSpan(start, cut - start), out var used);
            consumed += used;
            if (ended)
            {
                break;
            }

            start = cut;
        }

        return new Outcome(ended, consumed, Encoding.ASCII.GetString(buffer.GetMemory().Span), reader.SawBareCr, reader.SawRejectedBareLf, reader.Overflowed);
    }
}
