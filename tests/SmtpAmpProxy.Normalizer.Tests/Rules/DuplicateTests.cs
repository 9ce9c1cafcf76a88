using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

public sealed class DuplicateTests
{
    [Fact]
    public void Normalize_TwoAmpPartsByDefault_KeepsTheFirstAndDropsTheSecond()
    {
        var message = Message(Alt(Amp("<p>first</p>"), Plain(), Amp("<p>second</p>"), Html()));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        var action = Assert.Single(result.Actions);
        Assert.Equal("amp-duplicate", action.Code);
        Assert.Equal("kept AMP part /1 and dropped /3 in /", action.Description);
        var output = Trees.Output(message, result);
        Assert.Equal(["text/x-amp-html", "text/plain", "text/html"], Trees.ChildTypes(output));
        var text = System.Text.Encoding.UTF8.GetString(output);
        Assert.Contains("<p>first</p>", text);
        Assert.DoesNotContain("<p>second</p>", text);
    }

    [Fact]
    public void Normalize_DuplicateAfterHtml_DropsItInsteadOfMovingIt()
    {
        var message = Message(Alt(Plain(), Amp("<p>first</p>"), Html(), Amp("<p>second</p>")));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal(["amp-duplicate"], result.Actions.Select(a => a.Code));
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], Trees.ChildTypes(Trees.Output(message, result)));
    }

    [Fact]
    public void Normalize_DuplicatesBothAfterHtml_DropsSecondAndMovesFirst()
    {
        var message = Message(Alt(Plain(), Html(), Amp("<p>first</p>"), Amp("<p>second</p>")));

        var result = Trees.Normalize(message);

        Assert.Equal(["amp-duplicate", "amp-after-html"], result.Actions.Select(a => a.Code));
        var output = Trees.Output(message, result);
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], Trees.ChildTypes(output));
        Assert.Contains("<p>first</p>", System.Text.Encoding.UTF8.GetString(output));
    }

    [Fact]
    public void Normalize_DuplicateWithRejectOption_RejectsWithDuplicate()
    {
        var result = Trees.Normalize(Message(Alt(Amp(), Amp(), Plain())), new AmpOptions { OnDuplicate = DuplicateAction.Reject });

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-duplicate", result.RejectCode);
        Assert.Equal("multipart/alternative / holds 2 AMP parts (/1, /2); only one is allowed", result.RejectText);
    }

    [Fact]
    public void Normalize_DuplicateWithPassOption_KeepsBothAndWarns()
    {
        var message = Message(Alt(Amp(), Amp(), Plain(), Html()));

        var result = Trees.Normalize(message, new AmpOptions { OnDuplicate = DuplicateAction.Pass });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Contains(result.Warnings, w => w.Code == "amp-duplicate");
        Assert.Equal(message, Trees.Output(message, result));
    }

    [Fact]
    public void Normalize_DuplicatesPassedAndAfterHtml_MovesBothAsABlock()
    {
        var message = Message(Alt(Plain(), Html(), Amp("<p>a</p>"), Amp("<p>b</p>")));

        var result = Trees.Normalize(message, new AmpOptions { OnDuplicate = DuplicateAction.Pass });

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        var output = System.Text.Encoding.UTF8.GetString(Trees.Output(message, result));
        Assert.True(output.IndexOf("<p>a</p>", StringComparison.Ordinal) < output.IndexOf("<p>b</p>", StringComparison.Ordinal));
        Assert.True(output.IndexOf("<p>b</p>", StringComparison.Ordinal) < output.IndexOf("Hello in HTML", StringComparison.Ordinal));
        Assert.Equal("moved AMP parts /3, /4 before part /2 in /", Assert.Single(result.Actions).Description);
    }

    [Fact]
    public void Normalize_DuplicatesPassedAndBothLast_MovesBothBeforeTheLastOtherPart()
    {
        var message = Message(Alt(Plain(), Amp("<p>a</p>"), Amp("<p>b</p>")));

        var result = Trees.Normalize(message, new AmpOptions { OnDuplicate = DuplicateAction.Pass });

        Assert.Equal(["text/x-amp-html", "text/x-amp-html", "text/plain"], Trees.ChildTypes(Trees.Output(message, result)));
    }
}
