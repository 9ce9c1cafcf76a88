using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

public sealed class MimeLimitTests
{
    [Fact]
    public void Normalize_AmpMessageDeeperThanMaxDepth_RejectsWithMimeLimit()
    {
        var message = Message(Mixed(Mixed(Mixed(Alt(Amp(), Plain())))));

        var result = AmpNormalizer.Normalize(message, new MimeLimits { MaxDepth = 2 }, new AmpOptions());

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("mime-limit", result.RejectCode);
        Assert.NotEqual(MimeParseStatus.Ok, result.Parsed!.Status);
        Assert.StartsWith("message structure crosses a MIME limit: ", result.RejectText);
        Assert.True(result.Rewrite.IsEmpty);
    }

    [Fact]
    public void Normalize_AmpMessageWithMorePartsThanMaxParts_RejectsWithMimeLimit()
    {
        var message = Message(Mixed(Alt(Amp(), Plain(), Html()), Attachment("a.pdf"), Attachment("b.pdf"), Attachment("c.pdf")));

        var result = AmpNormalizer.Normalize(message, new MimeLimits { MaxParts = 3 }, new AmpOptions());

        Assert.Equal("mime-limit", result.RejectCode);
    }

    [Fact]
    public void Normalize_AmpMessageWithHugeHeaderBlock_RejectsWithMimeLimit()
    {
        var message = Message(Alt(Amp(), Plain()), topHeaders: $"X-Filler: {new string('a', 5000)}\r\n");

        var result = AmpNormalizer.Normalize(message, new MimeLimits { MaxHeaderBlockBytes = 1024 }, new AmpOptions());

        Assert.Equal("mime-limit", result.RejectCode);
        Assert.DoesNotContain('\r', result.RejectText!);
        Assert.DoesNotContain('\n', result.RejectText!);
    }

    [Fact]
    public void Normalize_ParameterBombOnAmpPart_RejectsWithMimeLimitNamingTheCap()
    {
        // The reproduction: 20,000 parameters (about 119 KB) on one Content-Type.
        var parameters = string.Concat(Enumerable.Range(0, 20_000).Select(i => $";\r\n p{i}=v"));
        var message = System.Text.Encoding.ASCII.GetBytes(
            "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
            + $"--b\r\nContent-Type: text/x-amp-html{parameters}\r\n\r\n<html amp4email></html>\r\n--b--\r\n");

        var result = AmpNormalizer.Normalize(message, new MimeLimits(), new AmpOptions());

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("mime-limit", result.RejectCode);
        Assert.Equal(MimeParseStatus.ParameterCountExceeded, result.Parsed!.Status);
        Assert.Contains("MaxParametersPerField (100)", result.RejectText, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_NonAmpMessageOverLimits_PassesOnTheFastPath()
    {
        var message = Message(Mixed(Mixed(Mixed(Alt(Plain(), Html())))));

        var result = AmpNormalizer.Normalize(message, new MimeLimits { MaxDepth = 1 }, new AmpOptions());

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Null(result.Parsed);
    }
}
