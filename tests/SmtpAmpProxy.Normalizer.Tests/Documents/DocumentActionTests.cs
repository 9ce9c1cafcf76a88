using System.Text;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Rules;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Documents;

public sealed class DocumentActionTests
{
    private const string InsecureImage = "<amp-img src=\"http://images.example.com/a.png\" width=\"10\" height=\"10\" alt=\"a\"></amp-img>";

    /// <summary>One document per code that breaks that rule alone, and the options that set its action.</summary>
    private static (string Document, AmpOptions Options) Case(string code, AmpDocumentAction action)
    {
        string valid = ValidAmp();
        return code switch
        {
            "amp-too-large" => (valid, new AmpOptions { OnTooLarge = action, MaxAmpBytes = Encoding.UTF8.GetByteCount(valid) - 1 }),
            "amp-invalid-markup" => (valid.Replace("<!doctype html>", string.Empty, StringComparison.Ordinal), new AmpOptions { OnInvalidMarkup = action }),
            _ => (ValidAmp(InsecureImage), new AmpOptions { OnInsecureUrl = action }),
        };
    }

    public static TheoryData<string> Codes() => new("amp-too-large", "amp-invalid-markup", "amp-insecure-url");

    [Theory]
    [MemberData(nameof(Codes))]
    public void Normalize_DocumentRuleSetToWarn_PassesUnchangedWithAWarning(string code)
    {
        var (document, options) = Case(code, AmpDocumentAction.Warn);
        var message = AmpDocuments.InAlternative(document);

        var result = Trees.Normalize(message, options);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        var warning = Assert.Single(result.Warnings);
        Assert.Equal(code, warning.Code);
        Assert.StartsWith("AMP part /2", warning.Description, StringComparison.Ordinal);
        Assert.Empty(result.Actions);
        Assert.Equal(message, Trees.Output(message, result));
    }

    [Theory]
    [MemberData(nameof(Codes))]
    public void Normalize_DocumentRuleSetToStrip_DropsTheAmpPartAndKeepsTheFallbacks(string code)
    {
        var (document, options) = Case(code, AmpDocumentAction.Strip);
        var message = AmpDocuments.InAlternative(document);

        var result = Trees.Normalize(message, options);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        var action = Assert.Single(result.Actions);
        Assert.Equal(code, action.Code);
        Assert.StartsWith("dropped AMP part /2 from /, keeping its fallback: AMP part /2", action.Description, StringComparison.Ordinal);
        Assert.Empty(result.Warnings);
        var output = Trees.Output(message, result);
        Assert.Equal(["text/plain", "text/html"], Trees.ChildTypes(output));
        Assert.DoesNotContain("x-amp-html", Encoding.UTF8.GetString(output), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [MemberData(nameof(Codes))]
    public void Normalize_DocumentRuleSetToReject_RejectsWithTheCode(string code)
    {
        var (document, options) = Case(code, AmpDocumentAction.Reject);

        var result = Trees.Normalize(AmpDocuments.InAlternative(document), options);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal(code, result.RejectCode);
        Assert.StartsWith("AMP part /2", result.RejectText, StringComparison.Ordinal);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Normalize_StripAndRejectOnOnePart_RejectWins()
    {
        var document = ValidAmp(InsecureImage).Replace("<!doctype html>", string.Empty, StringComparison.Ordinal);
        var options = new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Strip, OnInsecureUrl = AmpDocumentAction.Reject };

        var result = Trees.Normalize(AmpDocuments.InAlternative(document), options);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-insecure-url", result.RejectCode);
        Assert.Empty(result.Actions);
    }

    [Fact]
    public void Normalize_TwoRulesSetToStrip_DropsThePartOnceWithAnActionPerCode()
    {
        var document = ValidAmp(InsecureImage).Replace("<!doctype html>", string.Empty, StringComparison.Ordinal);
        var message = AmpDocuments.InAlternative(document);
        var options = new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Strip, OnInsecureUrl = AmpDocumentAction.Strip };

        var result = Trees.Normalize(message, options);

        Assert.Equal(["amp-invalid-markup", "amp-insecure-url"], result.Actions.Select(a => a.Code));
        Assert.Equal(["text/plain", "text/html"], Trees.ChildTypes(Trees.Output(message, result)));
    }

    [Fact]
    public void Normalize_StrippedPartAfterHtml_IsDroppedNotMoved()
    {
        var message = Message(Alt(Plain(), Html(), AmpDocument("<p>not AMP</p>")));

        var result = Trees.Normalize(message, new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Strip });

        Assert.Equal(["amp-invalid-markup"], result.Actions.Select(a => a.Code));
        Assert.Equal(["text/plain", "text/html"], Trees.ChildTypes(Trees.Output(message, result)));
    }

    [Fact]
    public void Normalize_StripWithoutFallback_RejectsBecauseNothingWouldRemain()
    {
        var options = new AmpOptions { OnNoFallback = NoFallbackAction.Pass, OnInvalidMarkup = AmpDocumentAction.Strip };

        var result = Trees.Normalize(Message(Alt(AmpDocument("<p>not AMP</p>"), Image())), options);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-invalid-markup", result.RejectCode);
        Assert.EndsWith("it cannot be stripped because multipart/alternative / has no fallback to show instead", result.RejectText, StringComparison.Ordinal);
        Assert.Contains(result.Warnings, w => w.Code == "amp-no-fallback");
    }

    [Fact]
    public void Normalize_StripOfAPartPassedOutsideAnAlternative_Rejects()
    {
        var options = new AmpOptions { OnMisplaced = MisplacedAction.Pass, OnInvalidMarkup = AmpDocumentAction.Strip };

        var result = Trees.Normalize(Message(Mixed(Plain(), AmpDocument("<p>not AMP</p>"))), options);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-invalid-markup", result.RejectCode);
        Assert.Contains("cannot be stripped because it is not in a multipart/alternative", result.RejectText, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_MisplacedPartPassed_StillHasItsDocumentChecked()
    {
        var message = Message(Mixed(Plain(), AmpDocument("<p>not AMP</p>")));

        var result = Trees.Normalize(message, new AmpOptions { OnMisplaced = MisplacedAction.Pass });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Equal(["amp-misplaced", "amp-invalid-markup"], result.Warnings.Select(w => w.Code));
    }

    [Fact]
    public void Normalize_DroppedDuplicate_IsNotChecked()
    {
        var message = Message(Alt(Amp(), Plain(), AmpDocument("<p>second, not AMP</p>"), Html()));

        var result = Trees.Normalize(message, new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Reject });

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal(["amp-duplicate"], result.Actions.Select(a => a.Code));
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Normalize_DuplicatesPassed_ChecksEachDocument()
    {
        var message = Message(Alt(Amp(), AmpDocument("<p>second, not AMP</p>"), Plain(), Html()));

        var result = Trees.Normalize(message, new AmpOptions { OnDuplicate = DuplicateAction.Pass });

        Assert.Equal(["amp-duplicate", "amp-invalid-markup"], result.Warnings.Select(w => w.Code));
        Assert.StartsWith("AMP part /2:", result.Warnings[1].Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_StructureRejectAndDocumentReject_NamesTheStructureAndListsTheDocument()
    {
        var options = new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Reject };

        var result = Trees.Normalize(Message(Mixed(Plain(), AmpDocument("<p>not AMP</p>"))), options);

        Assert.Equal("amp-misplaced", result.RejectCode);
        Assert.Equal(["amp-invalid-markup"], result.Warnings.Select(w => w.Code));
    }

    [Fact]
    public void Normalize_DocumentProblemsRankAfterStructureAndBeforeSigned()
    {
        Assert.True(RuleCodes.RejectPriority("amp-last") < RuleCodes.RejectPriority("amp-too-large"));
        Assert.True(RuleCodes.RejectPriority("amp-too-large") < RuleCodes.RejectPriority("amp-invalid-markup"));
        Assert.True(RuleCodes.RejectPriority("amp-invalid-markup") < RuleCodes.RejectPriority("amp-insecure-url"));
        Assert.True(RuleCodes.RejectPriority("amp-insecure-url") < RuleCodes.RejectPriority("amp-in-signed"));
    }

    [Fact]
    public void Normalize_OnlyOneOfTwoAlternativesBroken_StripsOnlyThatOne()
    {
        var message = Message(Mixed(Alt(Plain(), Amp(), Html()), Alt(Plain(), AmpDocument("<p>not AMP</p>"), Html())));

        var result = Trees.Normalize(message, new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Strip });

        var output = Trees.Output(message, result);
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], Trees.ChildTypes(output, 0));
        Assert.Equal(["text/plain", "text/html"], Trees.ChildTypes(output, 1));
        Assert.Equal("dropped AMP part /2/2 from /2, keeping its fallback: AMP part /2/2: no <!doctype html> before <html>; no <html> tag; no <head>; no <body>; and 2 more",
            Assert.Single(result.Actions).Description);
    }

    [Theory]
    [InlineData(AmpDocumentAction.Strip)]
    [InlineData(AmpDocumentAction.Reject)]
    public void Normalize_BrokenDocumentInsideSigned_PassesUnchangedWithSignedWarning(AmpDocumentAction action)
    {
        var message = Message(Signed(Alt(Plain(), AmpDocument("<p>not AMP</p>"), Html())));

        var result = Trees.Normalize(message, new AmpOptions { OnInvalidMarkup = action });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        var warning = Assert.Single(result.Warnings);
        Assert.Equal("amp-in-signed", warning.Code);
        Assert.Contains("(amp-invalid-markup); left unchanged inside multipart/signed at /", warning.Description, StringComparison.Ordinal);
        Assert.Equal(message, Trees.Output(message, result));
    }

    [Fact]
    public void Normalize_BrokenDocumentInsideSignedWithWarn_IsAPlainWarning()
    {
        var message = Message(Signed(Alt(Plain(), AmpDocument("<p>not AMP</p>"), Html())));

        var result = Trees.Normalize(message);

        Assert.Equal(["amp-invalid-markup"], result.Warnings.Select(w => w.Code));
    }

    [Fact]
    public void Normalize_BrokenDocumentInsideSignedWithSignedReject_RejectsAsInSigned()
    {
        var message = Message(Signed(Alt(Plain(), AmpDocument("<p>not AMP</p>"), Html())));

        var result = Trees.Normalize(message, new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Strip, InsideSigned = SignedAction.Reject });

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-in-signed", result.RejectCode);
    }

    [Fact]
    public void Normalize_BrokenDocumentInAttachedMessage_IsNotChecked()
    {
        var message = Message(Mixed(Alt(Plain(), Amp(), Html()), Rfc822(Alt(Plain(), AmpDocument("<p>not AMP</p>"), Html()))));

        var result = Trees.Normalize(message, new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Reject });

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Normalize_NonAmpMessageWithBrokenHtml_TakesTheFastPath()
    {
        var message = Message(Alt(Plain(), Html("<link rel=stylesheet href=http://x.example/a.css><img src=http://x.example/a.png>")));

        var result = Trees.Normalize(message, new AmpOptions { OnInvalidMarkup = AmpDocumentAction.Reject, OnInsecureUrl = AmpDocumentAction.Reject });

        Assert.Null(result.Parsed);
        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Normalize_InsecureUrlWithLineBreakAndNonAscii_RejectTextIsOnePrintableAsciiLine()
    {
        var document = ValidAmp("<a href=\"http://example.com/caf\u00e9\r\n/\u26A1\">x</a>");
        var options = new AmpOptions { OnInsecureUrl = AmpDocumentAction.Reject };

        var result = Trees.Normalize(AmpDocuments.InAlternative(document), options);

        Assert.Equal("amp-insecure-url", result.RejectCode);
        Assert.All(result.RejectText!, c => Assert.InRange(c, ' ', '~'));
        Assert.Contains("http://example.com/caf? /?", result.RejectText, StringComparison.Ordinal);
    }

    [Fact]
    public void AmpOptions_MaxAmpBytesNotPositive_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AmpOptions { MaxAmpBytes = 0 });
        Assert.Equal(102400, new AmpOptions().MaxAmpBytes);
    }
}
