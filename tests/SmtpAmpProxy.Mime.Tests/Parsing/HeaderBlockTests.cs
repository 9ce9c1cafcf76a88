using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Tests.Support;

namespace SmtpAmpProxy.Mime.Tests.Parsing;

public sealed class HeaderBlockTests
{
    [Fact]
    public void Parse_NoContentType_TextPlainDefault()
    {
        var root = MimeTest.Parse(MimeTest.Crlf("Subject: x\n\nbody\n")).Root;
        Assert.Equal("text/plain", root.ContentType.MimeType);
        Assert.Null(root.TransferEncoding);
        Assert.Null(root.Disposition);
    }

    [Fact]
    public void Parse_EmptyInput_EmptyTextPlainRoot()
    {
        var result = MimeTest.Parse([]);
        Assert.Equal(MimeParseStatus.Ok, result.Status);
        Assert.Equal(0, result.Root.Length);
        Assert.Equal("text/plain", result.Root.ContentType.MimeType);
    }

    [Fact]
    public void Parse_EndsInsideHeaders_AllHeaderNoBody()
    {
        var source = MimeTest.Bytes("Subject: x\r\nContent-Type: multipart/mixed; boundary=b");
        var root = MimeTest.Parse(source).Root;
        Assert.Equal(source.Length, root.HeaderLength);
        Assert.Equal(0, root.BodyLength);
        Assert.True(root.IsMultipart);
        Assert.Empty(root.Children);
    }

    [Fact]
    public void Parse_NonFieldLineBeforeBlankLine_BodyStartsThere()
    {
        var source = MimeTest.Crlf("Subject: x\nthis is not a field\nX-Other: y\n\nbody\n");
        var root = MimeTest.Parse(source).Root;
        Assert.Equal("Subject: x\r\n", MimeTest.Text(root.HeaderBytes));
        Assert.Equal("text/plain", root.ContentType.MimeType);
    }

    [Fact]
    public void Parse_NonFieldLineThenContentType_LineSkippedContentTypeRead()
    {
        // README, "Ambiguous MIME": the reading that sees the Content-Type is judged.
        var source = MimeTest.Crlf("Subject: x\nthis is not a field\nContent-Type: text/html\n\nbody\n");
        var root = MimeTest.Parse(source).Root;
        Assert.Equal("Subject: x\r\nthis is not a field\r\nContent-Type: text/html\r\n\r\n", MimeTest.Text(root.HeaderBytes));
        Assert.Equal("text/html", root.ContentType.MimeType);
    }

    [Fact]
    public void Parse_DelimiterLikeLineThenContentType_BodyStartsAtIt()
    {
        var source = MimeTest.Crlf("Content-Type: multipart/mixed; boundary=e\n--e\nContent-Type: text/plain\n\nx\n--e--\n");
        var root = MimeTest.Parse(source).Root;
        Assert.Equal("multipart/mixed", root.ContentType.MimeType);
        Assert.Single(root.Children);
        Assert.Equal("text/plain", root.Children[0].ContentType.MimeType);
    }

    [Fact]
    public void Parse_FoldedContentType_ContinuationRead()
    {
        var root = MimeTest.Parse(MimeTest.Crlf("Content-Type: multipart/alternative;\n\tboundary=\n  \"folded\"\nSubject: y\n\n--folded\n\nx\n--folded--\n")).Root;
        Assert.Equal("folded", root.Boundary);
        Assert.Single(root.Children);
    }

    [Fact]
    public void Parse_SpaceBeforeColon_FieldRecognised()
    {
        var root = MimeTest.Parse(MimeTest.Crlf("Content-Type : text/html\n\nx\n")).Root;
        Assert.Equal("text/html", root.ContentType.MimeType);
    }

    [Fact]
    public void Parse_RepeatedContentType_FirstCounts()
    {
        var root = MimeTest.Parse(MimeTest.Crlf("Content-Type: text/html\nContent-Type: text/x-amp-html\n\nx\n")).Root;
        Assert.Equal("text/html", root.ContentType.MimeType);
    }

    [Fact]
    public void Parse_TransferEncodingAndDisposition_LowerCaseTokens()
    {
        var root = MimeTest.Parse(MimeTest.Crlf("Content-Transfer-Encoding: Quoted-Printable\nContent-Disposition: ATTACHMENT;\n filename=x\n\nx\n")).Root;
        Assert.Equal("quoted-printable", root.TransferEncoding);
        Assert.Equal("attachment", root.Disposition);
    }

    [Fact]
    public void GetHeader_FoldedField_UnfoldedAndTrimmed()
    {
        var root = MimeTest.Parse(MimeTest.Crlf("Content-ID:\n  <logo@example>  \nSubject: s\n\nx\n")).Root;
        Assert.Equal("<logo@example>", root.GetHeader("content-id"));
        Assert.Equal("s", root.GetHeader("SUBJECT"));
        Assert.Null(root.GetHeader("X-Missing"));
    }

    [Fact]
    public void Parse_NulAndEightBitInHeaders_NoFailure()
    {
        var source = "X-A: \0\u00ff\r\nContent-Type: text/plain; name=\"\0\u00e9\"\r\n\r\n\0"u8.ToArray();
        var root = MimeTest.Parse(source).Root;
        Assert.Equal(MimeParseStatus.Ok, MimeTest.Parse(source).Status);
        Assert.Equal(source.Length, root.Length);
    }

    [Fact]
    public void Parse_PartWithHeadersEndingAtDelimiter_EmptyBody()
    {
        var source = MimeTest.Crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n--b--\n");
        var child = Assert.Single(MimeTest.Parse(source).Root.Children);
        Assert.Equal("text/html", child.ContentType.MimeType);
        Assert.Equal(0, child.BodyLength);
        Assert.Equal("Content-Type: text/html", MimeTest.Text(child.Bytes)); // the CRLF belongs to the delimiter
    }

    [Fact]
    public void Parse_MultipartDigest_DefaultChildIsMessage()
    {
        var source = MimeTest.Crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: inner\n\nx\n--d--\n");
        Assert.Equal("message/rfc822", Assert.Single(MimeTest.Parse(source).Root.Children).ContentType.MimeType);
    }
}
