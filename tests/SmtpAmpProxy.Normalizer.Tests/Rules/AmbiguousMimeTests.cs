using System.Text;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

/// <summary>
/// Shapes mainstream parsers read differently. Each test names the reading the proxy takes (README,
/// "Ambiguous MIME"): the one under which a misplaced AMP part, or one without a fallback, cannot pass.
/// </summary>
public sealed class AmbiguousMimeTests
{
    private static readonly string Document = ValidAmp();

    private static NormalizationResult Normalize(string message) =>
        AmpNormalizer.Normalize(Encoding.UTF8.GetBytes(message.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal)),
            new MimeLimits(), new AmpOptions());

    [Fact]
    public void HeaderLineWithoutColon_AmpContentTypeAfterIt_MisplacedAmpRejected()
    {
        // Python's email and MimeKit start this part's body at "X-Broken"; a reader that skips the line sees AMP in a mixed.
        var result = Normalize($"""
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain

            plain
            --b
            X-Broken header line
            Content-Type: text/x-amp-html

            {Document}
            --b--
            """);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-misplaced", result.RejectCode);
        Assert.Equal("text/x-amp-html", result.Parsed!.Root.Children[1].ContentType.MimeType);
    }

    [Fact]
    public void HeaderLineWithoutColon_NoContentTypeAfterIt_BodyStartsAtTheLine()
    {
        var source = Encoding.ASCII.GetBytes("Content-Type: text/x-amp-html\r\nSubject: x\r\nnot a field\r\nSecond: line\r\n\r\nrest\r\n");
        var parsed = MimeParser.Parse(source, new MimeLimits());

        Assert.Equal("text/x-amp-html", parsed.Root.ContentType.MimeType);
        Assert.Equal(Encoding.ASCII.GetString(source).IndexOf("not a field", StringComparison.Ordinal), parsed.Root.BodyOffset);
    }

    [Fact]
    public void HeaderLineWithoutColon_TopLevelBeforeMultipartContentType_PartsSeenAndJudged()
    {
        var result = Normalize($"""
            Subject: x
            this line is no field
            Content-Type: multipart/alternative; boundary=b

            --b
            Content-Type: text/x-amp-html

            {Document}
            --b--
            """);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-no-fallback", result.RejectCode);
    }

    [Fact]
    public void PartFirstLineNotHeader_AmpContentTypeFollows_MisplacedAmpRejected()
    {
        var result = Normalize($"""
            Content-Type: multipart/related; boundary=b

            --b
            <html><body>hello</body></html>
            Content-Type: text/x-amp-html

            {Document}
            --b--
            """);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-misplaced", result.RejectCode);
    }

    [Fact]
    public void PartFirstLineNotHeader_NoFieldFollows_TextPlainWhoseBodyStartsThere()
    {
        var source = Encoding.ASCII.GetBytes("Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nHello there\r\nsecond line\r\n\r\nmore\r\n--b--\r\n");
        var child = MimeParser.Parse(source, new MimeLimits()).Root.Children[0];

        Assert.Equal("text/plain", child.ContentType.MimeType);
        Assert.Equal(0, child.HeaderLength);
    }

    [Fact]
    public void TwoDelimiterLinesInARow_AmpAndEmptyPartOnly_NoFallbackRejected()
    {
        // Readers that list the empty part would call it a text/plain fallback; readers that drop it see AMP alone.
        var result = Normalize($"""
            Content-Type: multipart/alternative; boundary=b

            --b
            Content-Type: text/x-amp-html

            {Document}
            --b
            --b--
            """);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("amp-no-fallback", result.RejectCode);
        Assert.Equal(2, result.Parsed!.Root.Children.Count);
    }

    [Fact]
    public void TwoDelimiterLinesInARow_EmptyPartAfterAmp_AmpLastRepaired()
    {
        var result = Normalize($"""
            Content-Type: multipart/alternative; boundary=b

            --b
            Content-Type: text/plain

            plain
            --b
            Content-Type: text/x-amp-html

            {Document}
            --b
            --b--
            """);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal(["amp-last"], result.Actions.Select(a => a.Code));
    }

    [Fact]
    public void TwoDelimiterLinesInARow_PlainAmpHtml_EmptyPartLeftAlone()
    {
        var result = Normalize($"""
            Content-Type: multipart/alternative; boundary=b

            --b
            --b
            Content-Type: text/x-amp-html

            {Document}
            --b
            Content-Type: text/html

            <p>html</p>
            --b--
            """);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
    }

    [Fact]
    public void UnquotedBoundaryWithSpace_RejectedAsAmbiguous()
    {
        // "foo" for token readers, "foo bar" for readers that take the value up to ';': each can be given its own tree.
        var result = Normalize($"""
            Content-Type: multipart/alternative; boundary=foo bar

            --foo
            Content-Type: text/plain

            plain
            --foo bar
            Content-Type: text/x-amp-html

            {Document}
            --foo bar--
            --foo--
            """);

        Assert.Equal(AmpVerdict.Reject, result.Verdict);
        Assert.Equal("mime-ambiguous", result.RejectCode);
        Assert.Equal(MimeParseStatus.AmbiguousBoundary, result.Parsed!.Status);
        Assert.StartsWith("message structure is ambiguous: ", result.RejectText);
    }

    [Theory]
    [InlineData("boundary=\"foo bar\"")]
    [InlineData("boundary=foo (a comment)")]
    [InlineData("boundary=foo ; charset=x")]
    [InlineData("boundary=foo\r\n ; x=y")]
    public void QuotedOrCommentedBoundary_NotAmbiguous(string parameter)
    {
        var boundary = parameter.Contains('"', StringComparison.Ordinal) ? "foo bar" : "foo";
        var result = Normalize($"Content-Type: multipart/alternative; {parameter}\n\n--{boundary}\nContent-Type: text/plain\n\nplain\n--{boundary}\nContent-Type: text/x-amp-html\n\n{Document}\n--{boundary}--\n");

        Assert.Equal(MimeParseStatus.Ok, result.Parsed!.Status);
        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal(boundary, result.Parsed.Root.Boundary);
    }
}
