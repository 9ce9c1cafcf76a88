using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

public sealed class NoFallbackTests
{
    public static TheoryData<string, byte[]> NoFallbackMessages() => new()
    {
        { "amp-only", Message(Alt(Amp())) },
        { "amp-and-image", Message(Alt(Amp(), Image())) },
        { "amp-and-calendar", Message(Alt(Part("text/calendar; method=REQUEST", "BEGIN:VCALENDAR\r\nEND:VCALENDAR"), Amp())) },
        { "related-with-image-root", Message(Alt(Amp(), Related(Image(), Html()))) },
        { "related-start-names-image", Message(Alt(Amp(), Multipart("related", "; start=\"<img1@example.com>\"", Html(), Image()))) },
    };

    [Theory]
    [MemberData(nameof(NoFallbackMessages))]
    public void Normalize_AlternativeWithoutFallback_RejectsWithNoFallback(string name, byte[] message)
    {
        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-no-fallback", result.RejectCode);
        Assert.StartsWith("multipart/alternative / holds an AMP part but no", result.RejectText);
        Assert.NotEmpty(name);
    }

    [Theory]
    [MemberData(nameof(NoFallbackMessages))]
    public void Normalize_AlternativeWithoutFallbackWithPassOption_DoesNotReject(string name, byte[] message)
    {
        var result = Trees.Normalize(message, new AmpOptions { OnNoFallback = NoFallbackAction.Pass });

        Assert.NotEqual(AmpVerdict.Reject, result.Verdict);
        Assert.Contains(result.Warnings, w => w.Code == "amp-no-fallback");
        Assert.NotEmpty(name);
    }

    [Fact]
    public void Normalize_NoFallbackPassedAndAmpLast_StillReordersBeforeTheOtherPart()
    {
        var message = Message(Alt(Image(), Amp()));

        var result = Trees.Normalize(message, new AmpOptions { OnNoFallback = NoFallbackAction.Pass });

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal(["text/x-amp-html", "image/png"], Trees.ChildTypes(Trees.Output(message, result)));
    }

    public static TheoryData<string, byte[]> FallbackMessages() => new()
    {
        { "plain", Message(Alt(Amp(), Plain())) },
        { "html", Message(Alt(Amp(), Html())) },
        { "related-html-root", Message(Alt(Amp(), Related(Html(), Image()))) },
        { "related-start-names-html", Message(Alt(Amp(), Multipart("related", "; start=\"<root@example.com>\"",
            Image(), Part("text/html", "<p>root</p>", "Content-ID: <root@example.com>\r\n")))) },
        { "related-start-names-nothing", Message(Alt(Amp(), Multipart("related", "; start=\"<missing@example.com>\"", Html(), Image()))) },
    };

    [Theory]
    [MemberData(nameof(FallbackMessages))]
    public void Normalize_AlternativeWithFallback_Passes(string name, byte[] message)
    {
        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Empty(result.Warnings);
        Assert.NotEmpty(name);
    }
}
