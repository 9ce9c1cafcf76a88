using System.Text;
using SmtpAmpProxy.Normalizer.Documents;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Documents;

public sealed class DocumentSizeAndDecodingTests
{
    private static readonly AmpOptions RejectAll = new()
    {
        OnTooLarge = AmpDocumentAction.Reject,
        OnInvalidMarkup = AmpDocumentAction.Reject,
        OnInsecureUrl = AmpDocumentAction.Reject,
    };

    /// <summary>A valid document of exactly <paramref name="bytes"/> UTF-8 bytes.</summary>
    private static string ValidOfSize(int bytes)
    {
        int bare = Encoding.UTF8.GetByteCount(ValidAmp(string.Empty));
        return ValidAmp(new string('a', bytes - bare));
    }

    [Fact]
    public void Normalize_DocumentAtTheDefaultLimit_HasNoFinding()
    {
        var document = ValidOfSize(102400);

        var result = Trees.Normalize(AmpDocuments.InAlternative(document), RejectAll);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
    }

    [Fact]
    public void Normalize_DocumentOneByteOverTheDefaultLimit_IsTooLarge()
    {
        var document = ValidOfSize(102401);

        var result = Trees.Normalize(AmpDocuments.InAlternative(document), RejectAll);

        Assert.Equal("amp-too-large", result.RejectCode);
        Assert.Equal("AMP part /2 is 102401 bytes, over the 102400-byte limit", result.RejectText);
    }

    [Fact]
    public void Normalize_ConfiguredLimit_IsTheThreshold()
    {
        var document = ValidOfSize(150000);

        Assert.Equal(AmpVerdict.Pass, Trees.Normalize(AmpDocuments.InAlternative(document), RejectAll with { MaxAmpBytes = 150000 }).Verdict);
        Assert.Equal("amp-too-large", Trees.Normalize(AmpDocuments.InAlternative(document), RejectAll with { MaxAmpBytes = 149999 }).RejectCode);
    }

    [Fact]
    public void Normalize_Base64Part_IsMeasuredDecoded()
    {
        var document = Encoding.UTF8.GetBytes(ValidOfSize(102400));
        var encoded = TransferEncoders.Base64(document);
        Assert.True(encoded.Length > 102400);
        var part = AmpDocument(encoded, extraHeaders: "Content-Transfer-Encoding: base64\r\n");

        var result = Trees.Normalize(AmpDocuments.InAlternative(part), RejectAll);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
    }

    [Fact]
    public void Normalize_QuotedPrintablePartOneByteOver_IsTooLarge()
    {
        var document = Encoding.UTF8.GetBytes(ValidOfSize(102401));
        var part = AmpDocument(TransferEncoders.QuotedPrintable(document), extraHeaders: "Content-Transfer-Encoding: quoted-printable\r\n");

        var result = Trees.Normalize(AmpDocuments.InAlternative(part), RejectAll);

        Assert.Equal("amp-too-large", result.RejectCode);
        Assert.StartsWith("AMP part /2 is 102401 bytes", result.RejectText, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_QuotedPrintableUrlSplitBySoftBreakAndEncodedEquals_IsFound()
    {
        string body = ValidAmp("<amp-img src=3D\"ht=\r\ntp://images.example.com/a.png\" width=3D10 height=3D10></amp-img>")
            .Replace("charset=\"utf-8\"", "charset=3D\"utf-8\"", StringComparison.Ordinal)
            .Replace("src=\"https", "src=3D\"https", StringComparison.Ordinal)
            .Replace("visibility:hidden", "visibility:hidde=\r\nn", StringComparison.Ordinal);
        var part = AmpDocument(body, extraHeaders: "Content-Transfer-Encoding: quoted-printable\r\n");

        var result = Trees.Normalize(AmpDocuments.InAlternative(part), RejectAll);

        Assert.Equal("amp-insecure-url", result.RejectCode);
        Assert.Contains("http://images.example.com/a.png", result.RejectText, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_Latin1Part_IsMeasuredAsUtf8()
    {
        // 100 'é' are 100 bytes in ISO-8859-1 and 200 in UTF-8, the form the size rule counts. Latin-1
        // has no lightning bolt, so this document names itself with amp4email.
        string document = ValidAmp(new string('\u00e9', 100)).Replace("\u26A14email", "amp4email", StringComparison.Ordinal);
        int utf8Length = Encoding.UTF8.GetByteCount(document);
        var part = AmpDocument(TransferEncoders.Base64(Encoding.Latin1.GetBytes(document)), "text/x-amp-html; charset=ISO-8859-1",
            "Content-Transfer-Encoding: base64\r\n");
        var message = AmpDocuments.InAlternative(part);

        Assert.Equal(AmpVerdict.Pass, Trees.Normalize(message, RejectAll with { MaxAmpBytes = utf8Length }).Verdict);
        var over = Trees.Normalize(message, RejectAll with { MaxAmpBytes = utf8Length - 1 });
        Assert.Equal("amp-too-large", over.RejectCode);
        Assert.StartsWith($"AMP part /2 is {utf8Length} bytes", over.RejectText, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_UnknownCharset_IsReadAsUtf8AndSaysSo()
    {
        var part = AmpDocument("<p>not AMP</p>", "text/x-amp-html; charset=windows-1252");

        var result = Trees.Normalize(AmpDocuments.InAlternative(part));

        var warning = Assert.Single(result.Warnings);
        Assert.Equal("amp-invalid-markup", warning.Code);
        Assert.EndsWith("(charset windows-1252 read as UTF-8)", warning.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_ValidDocumentWithUnknownCharset_HasNoFinding()
    {
        var part = AmpDocument(ValidAmp(), "text/x-amp-html; charset=windows-1252");

        Assert.Equal(AmpVerdict.Pass, Trees.Normalize(AmpDocuments.InAlternative(part), RejectAll).Verdict);
    }

    [Fact]
    public void Normalize_CustomStyleAtTheLimit_HasNoFinding()
    {
        var document = ValidAmp(head: $"<style amp-custom>{new string('a', 74998)}\u00e9</style>\r\n");

        var result = Trees.Normalize(AmpDocuments.InAlternative(document), RejectAll);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
    }

    [Fact]
    public void Normalize_CustomStyleOneByteOverTheLimit_IsInvalidMarkup()
    {
        var document = ValidAmp(head: $"<style amp-custom>{new string('a', 74999)}\u00e9</style>\r\n");

        var result = Trees.Normalize(AmpDocuments.InAlternative(document), RejectAll);

        Assert.Equal("amp-invalid-markup", result.RejectCode);
        Assert.Equal("AMP part /2: <style amp-custom> holds 75001 bytes, over the 75000-byte limit", result.RejectText);
    }

    [Fact]
    public void DecodeBase64_WithLineBreaksAndGarbage_SkipsThem()
    {
        var input = "aGVs\r\nbG8g*d29y\tbGQ=\r\n=ignored"u8;
        var output = new byte[input.Length];

        int written = TransferDecoding.DecodeBase64(input, output);

        Assert.Equal("hello world", Encoding.ASCII.GetString(output, 0, written));
    }

    [Theory]
    [InlineData("YQ", "a")]
    [InlineData("YWI", "ab")]
    [InlineData("YWJj", "abc")]
    [InlineData("Y", "")]
    public void DecodeBase64_UnpaddedFinalGroup_DecodesWhatItCarries(string input, string expected)
    {
        var output = new byte[8];

        int written = TransferDecoding.DecodeBase64(Encoding.ASCII.GetBytes(input), output);

        Assert.Equal(expected, Encoding.ASCII.GetString(output, 0, written));
    }

    [Theory]
    [InlineData("a=3Db", "a=b")]
    [InlineData("caf=C3=A9", "caf\u00e9")]
    [InlineData("soft=\r\nbreak", "softbreak")]
    [InlineData("soft=  \r\nbreak", "softbreak")]
    [InlineData("keep =\r\nspace", "keep space")]
    [InlineData("trailing   \r\nnext", "trailing\r\nnext")]
    [InlineData("encoded=20\r\nnext", "encoded \r\nnext")]
    [InlineData("bare lf  \nnext", "bare lf\nnext")]
    [InlineData("bad=ZZ and =", "bad=ZZ and ")]
    [InlineData("lower=c3=a9", "lower\u00e9")]
    public void DecodeQuotedPrintable_Rfc2045Rules(string input, string expected)
    {
        var output = new byte[input.Length];

        int written = TransferDecoding.DecodeQuotedPrintable(Encoding.ASCII.GetBytes(input), output);

        Assert.Equal(expected, Encoding.UTF8.GetString(output, 0, written));
    }

    [Fact]
    public void Latin1ToUtf8_HighBytes_BecomeTwoByteSequences()
    {
        byte[] input = [(byte)'c', (byte)'a', (byte)'f', 0xE9, 0xFF];
        var output = new byte[input.Length * 2];

        int written = TransferDecoding.Latin1ToUtf8(input, output);

        Assert.Equal("caf\u00e9\u00ff", Encoding.UTF8.GetString(output, 0, written));
    }
}
