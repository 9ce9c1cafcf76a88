using System.Text;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Documents;

public sealed class DocumentCorpusTests
{
    public static TheoryData<string> Valid() => AmpDocuments.Valid();

    public static TheoryData<string> Broken() => AmpDocuments.Broken();

    [Fact]
    public void Corpus_HoldsValidAndBrokenDocumentsForEveryCode()
    {
        Assert.True(Valid().Count >= 7);
        var codes = Broken().SelectMany(row => AmpDocuments.Expected(row.Data).Codes).ToHashSet();
        Assert.Contains("amp-invalid-markup", codes);
        Assert.Contains("amp-insecure-url", codes);
    }

    [Theory]
    [MemberData(nameof(Valid))]
    public void Normalize_ValidDocument_PassesByteForByteWithoutFindings(string name)
    {
        var message = AmpDocuments.InAlternative(AmpDocuments.Read("valid", name));

        var result = Trees.Normalize(message, Strict);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Empty(result.Warnings);
        Assert.Empty(result.Actions);
        Assert.Equal(message, Trees.Output(message, result));
    }

    [Theory]
    [MemberData(nameof(Valid))]
    public void Normalize_ValidDocumentAsBase64_HasNoFindings(string name)
    {
        var document = Encoding.UTF8.GetBytes(AmpDocuments.Read("valid", name));
        var part = AmpDocument(TransferEncoders.Base64(document), extraHeaders: "Content-Transfer-Encoding: base64\r\n");

        var result = Trees.Normalize(AmpDocuments.InAlternative(part), Strict);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Empty(result.Warnings);
    }

    [Theory]
    [MemberData(nameof(Valid))]
    public void Normalize_ValidDocumentAsQuotedPrintable_HasNoFindings(string name)
    {
        var document = Encoding.UTF8.GetBytes(AmpDocuments.Read("valid", name).ReplaceLineEndings("\r\n"));
        var part = AmpDocument(TransferEncoders.QuotedPrintable(document, lineLength: 40),
            extraHeaders: "Content-Transfer-Encoding: quoted-printable\r\n");

        var result = Trees.Normalize(AmpDocuments.InAlternative(part), Strict);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Empty(result.Warnings);
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void Normalize_BrokenDocument_WarnsWithItsExpectedCodes(string name)
    {
        var (codes, mentions) = AmpDocuments.Expected(name);
        var message = AmpDocuments.InAlternative(AmpDocuments.Read("broken", name));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.Equal(codes, result.Warnings.Select(w => w.Code));
        Assert.Contains(mentions, result.Warnings[0].Description, StringComparison.Ordinal);
        Assert.StartsWith("AMP part /2", result.Warnings[0].Description, StringComparison.Ordinal);
        Assert.Equal(message, Trees.Output(message, result));
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void Normalize_BrokenDocumentAsBase64WithStrip_DropsTheAmpPart(string name)
    {
        var (codes, _) = AmpDocuments.Expected(name);
        var document = Encoding.UTF8.GetBytes(AmpDocuments.Read("broken", name));
        var part = AmpDocument(TransferEncoders.Base64(document), extraHeaders: "Content-Transfer-Encoding: base64\r\n");
        var message = AmpDocuments.InAlternative(part);

        var result = Trees.Normalize(message, Strict with
        {
            OnInvalidMarkup = AmpDocumentAction.Strip,
            OnInsecureUrl = AmpDocumentAction.Strip,
        });

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal(codes, result.Actions.Select(a => a.Code));
        Assert.Equal(["text/plain", "text/html"], Trees.ChildTypes(Trees.Output(message, result)));
    }

    /// <summary>Every document rule set to reject, so that any finding at all fails the test loudly.</summary>
    private static readonly AmpOptions Strict = new()
    {
        OnTooLarge = AmpDocumentAction.Reject,
        OnInvalidMarkup = AmpDocumentAction.Reject,
        OnInsecureUrl = AmpDocumentAction.Reject,
    };
}
