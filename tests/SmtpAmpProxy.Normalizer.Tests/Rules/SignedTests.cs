using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

public sealed class SignedTests
{
    public static TheoryData<string, byte[], string> BrokenInsideSigned() => new()
    {
        { "after-html", Message(Signed(Alt(Plain(), Html(), Amp()))), "amp-after-html" },
        { "last", Message(Signed(Alt(Plain(), Amp()))), "amp-last" },
        { "duplicate", Message(Signed(Alt(Amp(), Amp(), Plain()))), "amp-duplicate" },
        { "no-fallback", Message(Signed(Alt(Amp()))), "amp-no-fallback" },
        { "misplaced", Message(Signed(Mixed(Plain(), Amp()))), "amp-misplaced" },
        { "signed-inside-mixed", Message(Mixed(Signed(Alt(Plain(), Html(), Amp())), Attachment())), "amp-after-html" },
        { "encrypted", Message(Multipart("encrypted", "; protocol=\"application/pgp-encrypted\"",
            Part("application/pgp-encrypted", "Version: 1"), Alt(Plain(), Html(), Amp()))), "amp-after-html" },
    };

    [Theory]
    [MemberData(nameof(BrokenInsideSigned))]
    public void Normalize_RuleBrokenInsideSigned_PassesUnchangedWithSignedWarning(string name, byte[] message, string rule)
    {
        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Empty(result.Actions);
        var warning = Assert.Single(result.Warnings);
        Assert.Equal("amp-in-signed", warning.Code);
        Assert.Contains($"({rule})", warning.Description);
        Assert.Equal(message, Trees.Output(message, result));
        Assert.NotEmpty(name);
    }

    [Theory]
    [MemberData(nameof(BrokenInsideSigned))]
    public void Normalize_RuleBrokenInsideSignedWithRejectOption_RejectsWithInSigned(string name, byte[] message, string rule)
    {
        var result = Trees.Normalize(message, new AmpOptions { InsideSigned = SignedAction.Reject });

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-in-signed", result.RejectCode);
        Assert.Contains($"({rule})", result.RejectText);
        Assert.Contains("signature", result.RejectText);
        Assert.NotEmpty(name);
    }

    [Fact]
    public void Normalize_RuleSetToPassInsideSignedWithRejectOption_StaysAPlainWarning()
    {
        var message = Message(Signed(Alt(Plain(), Html(), Amp())));

        var result = Trees.Normalize(message, new AmpOptions { InsideSigned = SignedAction.Reject, OnAfterHtml = OrderAction.Pass });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Equal("amp-after-html", Assert.Single(result.Warnings).Code);
    }

    [Fact]
    public void Normalize_CompliantInsideSigned_PassesWithoutWarning()
    {
        var message = Message(Signed(Alt(Plain(), Amp(), Html())));

        var result = Trees.Normalize(message, new AmpOptions { InsideSigned = SignedAction.Reject });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Normalize_SignedPartAndUnsignedMisorderedAlternative_RepairsOnlyTheUnsignedOne()
    {
        var message = Message(Mixed(Alt(Plain(), Html(), Amp()), Signed(Alt(Plain(), Html(), Amp()))));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal("moved AMP part /1/3 before part /1/2 in /1", Assert.Single(result.Actions).Description);
        Assert.Equal("amp-in-signed", Assert.Single(result.Warnings).Code);
        var orders = Trees.AlternativeOrders(Trees.Output(message, result));
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], orders[0]);
        Assert.Equal(["text/plain", "text/html", "text/x-amp-html"], orders[1]);
    }
}
