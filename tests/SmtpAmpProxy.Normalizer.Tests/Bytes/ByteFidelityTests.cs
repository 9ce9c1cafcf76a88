using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Bytes;

public sealed class ByteFidelityTests
{
    /// <summary>Messages with exactly one alternative to repair, and its index among the alternatives.</summary>
    public static TheoryData<string, byte[], int> RepairedMessages() => new()
    {
        { "after-html-top", Message(Alt(Plain(), Html(), Amp())), 0 },
        { "last-top", Message(Alt(Plain(), Amp())), 0 },
        { "after-html-in-mixed", Message(Mixed(Alt(Plain(), Html(), Amp()), Attachment())), 0 },
        { "second-alternative", Message(Mixed(Alt(Amp(), Plain()), Alt(Plain(), Html(), Amp()), Attachment())), 1 },
        { "in-related-in-mixed", Message(Mixed(Related(Alt(Plain(), Html(), Amp()), Image()), Attachment())), 0 },
        { "duplicate", Message(Mixed(Alt(Amp(), Plain(), Amp(), Html()), Attachment())), 0 },
    };

    [Theory]
    [MemberData(nameof(RepairedMessages))]
    public void Normalize_Repair_LeavesEveryByteOutsideTheEditedBodyUnchanged(string name, byte[] message, int edited)
    {
        var result = Trees.Normalize(message);
        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        var alt = Trees.Alternatives(result.Parsed!.Root)[edited];

        var output = Trees.Output(message, result);

        int head = alt.BodyOffset;
        int tail = message.Length - (alt.BodyOffset + alt.BodyLength);
        Assert.True(output.Length >= head + tail, name);
        Assert.True(output.AsSpan(0, head).SequenceEqual(message.AsSpan(0, head)), $"{name}: bytes before the edited body changed");
        Assert.True(output.AsSpan(output.Length - tail).SequenceEqual(message.AsSpan(message.Length - tail)), $"{name}: bytes after the edited body changed");
    }

    [Theory]
    [MemberData(nameof(RepairedMessages))]
    public void Normalize_Repair_KeepsEveryKeptChildByteForByteAndNonAmpOrder(string name, byte[] message, int edited)
    {
        var result = Trees.Normalize(message);
        var alt = Trees.Alternatives(result.Parsed!.Root)[edited];

        var output = Trees.Output(message, result);

        var outAlt = Trees.Alternatives(MimeParser.Parse(output, Trees.Limits).Root)[edited];
        var kept = outAlt.Children.Select(c => output.AsSpan(c.Offset, c.Length).ToArray()).ToList();
        var before = alt.Children.Select(c => message.AsSpan(c.Offset, c.Length).ToArray()).ToList();
        foreach (var child in kept)
        {
            Assert.Contains(before, b => b.AsSpan().SequenceEqual(child));
        }

        var nonAmpBefore = alt.Children.Where(c => !c.ContentType.Is("text", "x-amp-html")).Select(c => Trees.Slice(message, c));
        var nonAmpAfter = outAlt.Children.Where(c => !c.ContentType.Is("text", "x-amp-html")).Select(c => Trees.Slice(output, c));
        Assert.Equal(nonAmpBefore, nonAmpAfter);
        Assert.NotEmpty(name);
    }

    [Fact]
    public void Normalize_NonAmpMessage_ReturnsTheInputAsTheOnlySegment()
    {
        var message = Message(Mixed(Alt(Plain(), Html()), Attachment()));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        var segment = Assert.Single(AmpNormalizer.GetOutputSegments(message, result));
        Assert.True(segment.Span.SequenceEqual(message));
    }
}
