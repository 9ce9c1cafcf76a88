using System.Text;
using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Parsing;

namespace SmtpAmpProxy.Mime.Tests.Parsing;

public sealed class ContentTypeTests
{
    private static ContentType Parse(string value) =>
        ContentType.Parse(value) ?? throw new InvalidOperationException($"unparsable: {value}");

    [Fact]
    public void Parse_MixedCaseType_LowerCaseNames()
    {
        var ct = Parse("Text/X-AMP-Html; Charset=UTF-8");
        Assert.Equal("text", ct.MediaType);
        Assert.Equal("x-amp-html", ct.SubType);
        Assert.Equal("text/x-amp-html", ct.MimeType);
        Assert.True(ct.Is("TEXT", "x-amp-HTML"));
        Assert.Equal("UTF-8", ct.GetParameter("CHARSET"));
    }

    [Fact]
    public void Parse_QuotedStringWithQuotedPairs_Unescaped()
    {
        var ct = Parse("multipart/mixed; boundary=\"a \\\"b\\\" \\\\ c\"");
        Assert.Equal("a \"b\" \\ c", ct.GetParameter("boundary"));
    }

    [Fact]
    public void Parse_CommentsEverywhere_Ignored()
    {
        var ct = Parse("(c1) multipart (c2) / (c3) alternative (c4 (nested) \\) ) ; boundary (c5) = (c6) abc (c7); x=y");
        Assert.Equal("multipart/alternative", ct.MimeType);
        Assert.Equal("abc", ct.GetParameter("boundary"));
        Assert.Equal("y", ct.GetParameter("x"));
    }

    [Fact]
    public void Parse_FoldedValue_Unfolded()
    {
        var ct = Parse("multipart/mixed;\r\n boundary=\"long\r\n boundary\";\r\n\tcharset=us-ascii");
        Assert.Equal("long boundary", ct.GetParameter("boundary"));
        Assert.Equal("us-ascii", ct.GetParameter("charset"));
    }

    [Fact]
    public void Parse_Rfc2231Continuations_Joined()
    {
        var ct = Parse("application/pdf; name*0=\"part one \"; name*1=\"and two\"; name*2=.pdf");
        Assert.Equal("part one and two.pdf", ct.GetParameter("name"));
    }

    [Fact]
    public void Parse_Rfc2231EncodedContinuations_PercentAndCharsetDecoded()
    {
        var ct = Parse("application/pdf; name*0*=utf-8'en'%E2%82%AC%20; name*1*=%C3%BCber; name*2=\" plain%20kept\"");
        Assert.Equal("€ über plain%20kept", ct.GetParameter("name"));
    }

    [Fact]
    public void Parse_Rfc2231SectionsOutOfOrder_JoinedByIndex()
    {
        var ct = Parse("text/plain; title*2=c; title*0=a; title*1=b");
        Assert.Equal("abc", ct.GetParameter("title"));
    }

    [Fact]
    public void Parse_Rfc2231SingleExtendedLatin1_Decoded()
    {
        var ct = Parse("text/plain; title*=iso-8859-1'fr'r%E9sum%E9");
        Assert.Equal("résumé", ct.GetParameter("title"));
    }

    [Fact]
    public void Parse_Rfc2231AndPlainSameName_ExtendedWins()
    {
        var ct = Parse("text/plain; name=\"fallback.txt\"; name*=utf-8''%E2%9C%93.txt");
        Assert.Equal("✓.txt", ct.GetParameter("name"));
    }

    [Fact]
    public void Parse_Rfc2231GapInSections_StopsAtGap()
    {
        var ct = Parse("text/plain; t*0=a; t*1=b; t*3=d");
        Assert.Equal("ab", ct.GetParameter("t"));
    }

    [Fact]
    public void Parse_Rfc2231UnknownCharset_FallsBackWithoutThrowing()
    {
        var ct = Parse("text/plain; t*=x-no-such-charset''abc%41");
        Assert.Equal("abcA", ct.GetParameter("t"));
    }

    [Fact]
    public void Parse_BadPercentEscape_KeptLiterally()
    {
        var ct = Parse("text/plain; t*=utf-8''100%; u*=utf-8''%zz");
        Assert.Equal("100%", ct.GetParameter("t"));
        Assert.Equal("%zz", ct.GetParameter("u"));
    }

    [Fact]
    public void Parse_DuplicateParameter_FirstWins()
    {
        var ct = Parse("multipart/mixed; boundary=first; boundary=second");
        Assert.Equal("first", ct.GetParameter("boundary"));
    }

    [Fact]
    public void Parse_JunkBetweenParameters_Skipped()
    {
        var ct = Parse("multipart/mixed; ; garbage; =novalue; boundary=ok; ;;");
        Assert.Equal("ok", ct.GetParameter("boundary"));
        Assert.Null(ct.GetParameter("garbage"));
    }

    [Fact]
    public void Parse_UnterminatedQuote_RunsToEnd()
    {
        var ct = Parse("multipart/mixed; boundary=\"open ended");
        Assert.Equal("open ended", ct.GetParameter("boundary"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("text")]
    [InlineData("text/")]
    [InlineData("/plain")]
    [InlineData("(only a comment)")]
    [InlineData("tëxt/plain")]
    public void Parse_NoTypeSlashSubtype_Null(string value) => Assert.Null(ContentType.Parse(value));

    [Fact]
    public void Parse_RawUtf8Value_DecodedAsUtf8()
    {
        var value = Encoding.UTF8.GetBytes("application/pdf; name=\"Grüße.pdf\"");
        var ct = HeaderValueParser.ParseContentType(value, wantBoundary: false, out _);
        Assert.Equal("Grüße.pdf", ct!.GetParameter("name"));
    }

    [Fact]
    public void Parse_RawLatin1Value_DecodedAsLatin1()
    {
        var value = Encoding.Latin1.GetBytes("application/pdf; name=\"Grüße.pdf\"");
        var ct = HeaderValueParser.ParseContentType(value, wantBoundary: false, out _);
        Assert.Equal("Grüße.pdf", ct!.GetParameter("name"));
    }

    [Fact]
    public void ParseContentType_BoundaryWithTrailingSpace_BoundaryBytesTrimmed()
    {
        var ct = HeaderValueParser.ParseContentType("multipart/mixed; boundary=\"abc  \""u8, wantBoundary: true, out var boundary);
        Assert.Equal("multipart/mixed", ct!.MimeType);
        Assert.Equal("abc"u8.ToArray(), boundary);
    }

    [Fact]
    public void ParseContentType_EmptyBoundary_NoBoundary()
    {
        HeaderValueParser.ParseContentType("multipart/mixed; boundary=\"\""u8, wantBoundary: true, out var boundary);
        Assert.Null(boundary);
    }

    [Fact]
    public void ParseContentType_BoundaryOnNonMultipart_NotABoundary()
    {
        HeaderValueParser.ParseContentType("text/plain; boundary=abc"u8, wantBoundary: true, out var boundary);
        Assert.Null(boundary);
    }

    [Fact]
    public void ParseParameters_DispositionFilenameRfc2231_Decoded()
    {
        var value = "attachment;\r\n filename*0*=utf-8''R%C3%A9sum%C3%A9%20;\r\n filename*1*=%E2%80%93%20x.pdf"u8;
        var i = value.IndexOf((byte)';');
        var parameters = HeaderValueParser.ParseParameters(value, i, wantBoundary: false, out _);
        Assert.Equal("Résumé – x.pdf", Assert.Single(parameters).Value);
    }

    [Fact]
    public void ParseToken_CommentAndCase_LowerToken()
    {
        Assert.Equal("base64", HeaderValueParser.ParseToken(" (enc) BASE64 (x)"u8));
        Assert.Equal("attachment", HeaderValueParser.ParseToken("Attachment; filename=x"u8));
        Assert.Null(HeaderValueParser.ParseToken("  (nothing)  "u8));
    }
}
