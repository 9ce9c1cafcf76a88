using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

public sealed class MisplacedTests
{
    public static TheoryData<string, byte[]> MisplacedMessages() => new()
    {
        { "top-level", Message(Amp()) },
        { "in-mixed", Message(Mixed(Plain(), Amp())) },
        { "in-related", Message(Alt(Plain(), Related(Amp(), Image()))) },
        { "in-mixed-beside-alternative", Message(Mixed(Alt(Plain(), Html()), Amp(), Attachment())) },
    };

    [Theory]
    [MemberData(nameof(MisplacedMessages))]
    public void Normalize_AmpOutsideAlternative_RejectsWithMisplaced(string name, byte[] message)
    {
        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-misplaced", result.RejectCode);
        Assert.Contains("multipart/alternative", result.RejectText);
        Assert.True(result.HasAmp, name);
        Assert.True(result.Rewrite.IsEmpty);
        Assert.Empty(result.Actions);
    }

    [Theory]
    [MemberData(nameof(MisplacedMessages))]
    public void Normalize_AmpOutsideAlternativeWithPassOption_PassesUnchangedWithWarning(string name, byte[] message)
    {
        var result = Trees.Normalize(message, new AmpOptions { OnMisplaced = MisplacedAction.Pass });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Null(result.RejectCode);
        Assert.Contains(result.Warnings, w => w.Code == "amp-misplaced");
        Assert.Equal(message, Trees.Output(message, result));
        Assert.NotEmpty(name);
    }

    [Fact]
    public void Normalize_AmpInMixed_RejectTextNamesPartAndParent()
    {
        var result = Trees.Normalize(Message(Mixed(Plain(), Amp())));

        Assert.Equal("AMP part /2 is inside multipart/mixed; it must be a child of multipart/alternative", result.RejectText);
    }

    [Fact]
    public void Normalize_TopLevelAmp_RejectTextSaysTheMessageItselfIsAmp()
    {
        var result = Trees.Normalize(Message(Amp()));

        Assert.StartsWith("the message itself is text/x-amp-html", result.RejectText);
    }

    [Fact]
    public void Normalize_MisplacedAndMisorderedInOneMessage_RejectsWithoutApplyingTheRepair()
    {
        var message = Message(Mixed(Alt(Plain(), Html(), Amp()), Amp()));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-misplaced", result.RejectCode);
        Assert.Empty(result.Actions);
        Assert.True(result.Rewrite.IsEmpty);
    }
}
