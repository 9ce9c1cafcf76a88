using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

public sealed class OrderTests
{
    private const string AmpType = "text/x-amp-html";
    private const string PlainType = "text/plain";
    private const string HtmlType = "text/html";
    private const string RelatedType = "multipart/related";

    public static TheoryData<string, byte[], string[]> AfterHtmlMessages() => new()
    {
        { "plain-html-amp", Message(Alt(Plain(), Html(), Amp())), [PlainType, AmpType, HtmlType] },
        { "html-amp", Message(Alt(Html(), Amp())), [AmpType, HtmlType] },
        { "html-plain-amp", Message(Alt(Html(), Plain(), Amp())), [AmpType, HtmlType, PlainType] },
        { "plain-related-amp", Message(Alt(Plain(), Related(Html(), Image()), Amp())), [PlainType, AmpType, RelatedType] },
        { "html-amp-html", Message(Alt(Plain(), Html(), Amp(), Html("<p>second</p>"))), [PlainType, AmpType, HtmlType, HtmlType] },
    };

    [Theory]
    [MemberData(nameof(AfterHtmlMessages))]
    public void Normalize_AmpAfterHtml_MovesAmpDirectlyBeforeFirstHtmlBearingPart(string name, byte[] message, string[] expected)
    {
        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal("amp-after-html", Assert.Single(result.Actions).Code);
        Assert.Equal(expected, Trees.ChildTypes(Trees.Output(message, result)));
        Assert.NotEmpty(name);
    }

    [Fact]
    public void Normalize_AmpAfterHtml_DescribesTheMove()
    {
        var result = Trees.Normalize(Message(Alt(Plain(), Html(), Amp())));

        Assert.Equal(new AmpAction("amp-after-html", "moved AMP part /3 before part /2 in /"), Assert.Single(result.Actions));
    }

    [Fact]
    public void Normalize_AmpAfterHtmlWithRejectOption_RejectsWithAfterHtml()
    {
        var result = Trees.Normalize(Message(Alt(Plain(), Html(), Amp())), new AmpOptions { OnAfterHtml = OrderAction.Reject });

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-after-html", result.RejectCode);
        Assert.StartsWith("AMP part /3 comes after HTML part /2 in multipart/alternative /", result.RejectText);
    }

    [Fact]
    public void Normalize_AmpAfterHtmlWithPassOption_PassesUnchangedWithWarning()
    {
        var message = Message(Alt(Plain(), Html(), Amp()));

        var result = Trees.Normalize(message, new AmpOptions { OnAfterHtml = OrderAction.Pass });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Equal("amp-after-html", Assert.Single(result.Warnings).Code);
        Assert.Equal(message, Trees.Output(message, result));
    }

    public static TheoryData<string, byte[], string[]> LastMessages() => new()
    {
        { "plain-amp", Message(Alt(Plain(), Amp())), [AmpType, PlainType] },
        { "plain-calendar-amp", Message(Alt(Plain(), Part("text/calendar", "BEGIN:VCALENDAR"), Amp())), [PlainType, AmpType, "text/calendar"] },
        { "plain-related-image-root-amp", Message(Alt(Plain(), Related(Image(), Html()), Amp())), [PlainType, AmpType, RelatedType] },
    };

    [Theory]
    [MemberData(nameof(LastMessages))]
    public void Normalize_AmpLastWithoutHtml_MovesAmpBeforeLastOtherPart(string name, byte[] message, string[] expected)
    {
        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal("amp-last", Assert.Single(result.Actions).Code);
        Assert.Equal(expected, Trees.ChildTypes(Trees.Output(message, result)));
        Assert.NotEmpty(name);
    }

    [Fact]
    public void Normalize_AmpLastWithRejectOption_RejectsWithLast()
    {
        var result = Trees.Normalize(Message(Alt(Plain(), Amp())), new AmpOptions { OnLast = OrderAction.Reject });

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-last", result.RejectCode);
    }

    [Fact]
    public void Normalize_AmpLastWithPassOption_PassesUnchangedWithWarning()
    {
        var message = Message(Alt(Plain(), Amp()));

        var result = Trees.Normalize(message, new AmpOptions { OnLast = OrderAction.Pass });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Equal("amp-last", Assert.Single(result.Warnings).Code);
        Assert.Equal(message, Trees.Output(message, result));
    }

    public static TheoryData<string, byte[]> CompliantMessages() => new()
    {
        { "amp-plain-html", Message(Alt(Amp(), Plain(), Html())) },
        { "plain-amp-html", Message(Alt(Plain(), Amp(), Html())) },
        { "amp-html", Message(Alt(Amp(), Html())) },
        { "amp-plain", Message(Alt(Amp(), Plain())) },
        { "plain-amp-related", Message(Alt(Plain(), Amp(), Related(Html(), Image()))) },
        { "amp-html-plain", Message(Alt(Amp(), Html(), Plain())) },
        { "in-mixed-with-attachment", Message(Mixed(Alt(Plain(), Amp(), Html()), Attachment())) },
    };

    [Theory]
    [MemberData(nameof(CompliantMessages))]
    public void Normalize_CompliantOrder_PassesWithOutputIdenticalToInput(string name, byte[] message)
    {
        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.True(result.HasAmp);
        Assert.Empty(result.Actions);
        Assert.Empty(result.Warnings);
        Assert.True(result.Rewrite.IsEmpty);
        var segment = Assert.Single(AmpNormalizer.GetOutputSegments(message, result));
        Assert.True(segment.Span.SequenceEqual(message), name);
    }

    [Fact]
    public void GetOutputSegments_Reject_Throws()
    {
        var message = Message(Mixed(Amp()));
        var result = Trees.Normalize(message);

        Assert.Throws<InvalidOperationException>(() => AmpNormalizer.GetOutputSegments(message, result));
    }
}
