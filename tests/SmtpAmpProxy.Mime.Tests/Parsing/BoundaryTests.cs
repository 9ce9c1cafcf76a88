using SmtpAmpProxy.Mime.Model;
using SmtpAmpProxy.Mime.Tests.Support;

namespace SmtpAmpProxy.Mime.Tests.Parsing;

/// <summary>RFC 2046 §5.1.1 delimiter recognition.</summary>
public sealed class BoundaryTests
{
    private static MimeEntity Root(string text, bool crlf = true) =>
        MimeTest.Parse(crlf ? MimeTest.Crlf(text) : MimeTest.Bytes(text)).Root;

    private static string Body(MimeEntity e) => MimeTest.Text(e.BodyBytes);

    [Theory]
    [InlineData("--bx")]
    [InlineData("--b-")]
    [InlineData("--b-x")]
    [InlineData("--b--x")]
    [InlineData("--b ,")]
    [InlineData(" --b")]
    [InlineData("-b")]
    [InlineData("--B")]
    public void Parse_LineThatOnlyStartsLikeDelimiter_StaysInBody(string line)
    {
        var root = Root($"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbefore\n{line}\nafter\n--b--\n");
        var child = Assert.Single(root.Children);
        Assert.Equal($"before\r\n{line}\r\nafter", Body(child));
    }

    [Fact]
    public void Parse_TransportPaddingAfterDelimiter_Recognised()
    {
        var root = Root("Content-Type: multipart/mixed; boundary=b\n\n--b \t\n\none\n--b\t\n\ntwo\n--b--  \nepilogue\n");
        Assert.Equal(2, root.Children.Count);
        Assert.Equal("one", Body(root.Children[0]));
        Assert.Equal("two", Body(root.Children[1]));
        Assert.True(root.HasCloseDelimiter);
        Assert.Equal("epilogue\r\n", MimeTest.Text(root.Source.Slice(root.EpilogueOffset, root.EpilogueLength)));
    }

    [Fact]
    public void Parse_CloseDelimiterIsFirst_NoChildrenPreambleKept()
    {
        var root = Root("Content-Type: multipart/mixed; boundary=b\n\npre\n--b--\nepi\n");
        Assert.Empty(root.Children);
        Assert.True(root.HasCloseDelimiter);
        Assert.Equal(3, root.PreambleLength);
    }

    [Fact]
    public void Parse_MissingCloseDelimiter_LastPartRunsToEnd()
    {
        var root = Root("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\nthree\n");
        Assert.False(root.HasCloseDelimiter);
        Assert.Equal("two\r\nthree", Body(root.Children[1]));
        Assert.Equal(2, root.CloseDelimiterLength); // the final CRLF, which RFC 2046 gives to the missing delimiter
    }

    [Fact]
    public void Parse_InnerMissingClose_InnerEndsAtOuterDelimiter()
    {
        var root = Root("""
            Content-Type: multipart/mixed; boundary=outer

            --outer
            Content-Type: multipart/alternative; boundary=inner

            --inner

            a
            --inner

            b
            --outer

            c
            --outer--

            """);
        Assert.Equal(2, root.Children.Count);
        var inner = root.Children[0];
        Assert.False(inner.HasCloseDelimiter);
        Assert.Equal(2, inner.Children.Count);
        Assert.Equal("b", Body(inner.Children[1]));
        Assert.Equal("c", Body(root.Children[1]));
    }

    [Fact]
    public void Parse_OuterDelimiterInsideInnerLeaf_ClosesBothLevels()
    {
        var root = Root("""
            Content-Type: multipart/mixed; boundary=o

            --o
            Content-Type: multipart/mixed; boundary=i

            --i
            Content-Type: multipart/mixed; boundary=j

            --j

            deep
            --o--

            """);
        var level1 = Assert.Single(root.Children);
        var level2 = Assert.Single(level1.Children);
        Assert.Equal("deep", Body(Assert.Single(level2.Children)));
        Assert.True(root.HasCloseDelimiter);
        Assert.False(level1.HasCloseDelimiter);
        Assert.False(level2.HasCloseDelimiter);
    }

    [Fact]
    public void Parse_InnerBoundaryLinesInOuterLeaf_NotDelimiters()
    {
        // After the inner multipart closed, its boundary means nothing any more.
        var root = Root("""
            Content-Type: multipart/mixed; boundary=o

            --o
            Content-Type: multipart/mixed; boundary=i

            --i

            x
            --i--
            --o

            --i
            still text
            --o--

            """);
        Assert.Equal("--i\r\nstill text", Body(root.Children[1]));
    }

    [Fact]
    public void Parse_BoundaryIsPrefixOfOther_Distinguished()
    {
        var root = Root("""
            Content-Type: multipart/mixed; boundary=ab

            --ab
            Content-Type: multipart/alternative; boundary=abc

            --abc

            one
            --abc--
            --ab

            two
            --ab--

            """);
        Assert.Equal(2, root.Children.Count);
        Assert.Equal("one", Body(Assert.Single(root.Children[0].Children)));
        Assert.Equal("two", Body(root.Children[1]));
    }

    [Fact]
    public void Parse_LfOnly_SameStructureAsCrlf()
    {
        const string text = "Content-Type: multipart/mixed; boundary=b\n\npre\n--b\nContent-Type: text/html\n\n<p>\n--b\n\nx\n--b--\nepi\n";
        var lf = Root(text, crlf: false);
        var crlf = Root(text);
        Assert.Equal(crlf.Children.Count, lf.Children.Count);
        Assert.Equal("<p>", Body(lf.Children[0]));
        Assert.Equal("text/html", lf.Children[0].ContentType.MimeType);
        Assert.Equal("pre".Length, lf.PreambleLength);
        Assert.Equal("epi\n", MimeTest.Text(lf.Source.Slice(lf.EpilogueOffset, lf.EpilogueLength)));
    }

    [Fact]
    public void Parse_DelimiterAtEndWithoutLineEnd_Recognised()
    {
        var root = MimeTest.Parse(MimeTest.Bytes("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--")).Root;
        Assert.True(root.HasCloseDelimiter);
        Assert.Equal("x", Body(Assert.Single(root.Children)));
    }

    [Fact]
    public void Parse_BoundaryWithRegexAndSpaceCharacters_MatchedLiterally()
    {
        var root = Root("Content-Type: multipart/mixed; boundary=\"=_a.b (c)+?*\"\n\n--=_a.b (c)+?*\n\nx\n--=_a.b (c)+?*--\n");
        Assert.Equal("=_a.b (c)+?*", root.Boundary);
        Assert.Equal("x", Body(Assert.Single(root.Children)));
    }

    [Fact]
    public void Parse_MultipartWithoutBoundary_IsLeaf()
    {
        var root = Root("Content-Type: multipart/mixed\n\n--x\n\nbody\n--x--\n");
        Assert.False(root.IsMultipart);
        Assert.Empty(root.Children);
        Assert.Equal("multipart/mixed", root.ContentType.MimeType);
    }

    [Theory]
    [InlineData("message/rfc822")]
    [InlineData("message/global")]
    public void Parse_EncapsulatedMessage_NotDescended(string type)
    {
        var root = Root($"""
            Content-Type: multipart/mixed; boundary=o

            --o
            Content-Type: {type}

            Content-Type: multipart/alternative; boundary=i

            --i

            inner
            --i--
            --o--

            """);
        var message = Assert.Single(root.Children);
        Assert.Equal(type, message.ContentType.MimeType);
        Assert.Empty(message.Children);
        Assert.False(message.IsMultipart);
    }

    [Fact]
    public void Parse_DelimiterRightAfterHeaderBlankLine_EmptyPreambleBlankLineStaysInHeader()
    {
        var source = MimeTest.Crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n");
        var root = MimeTest.Parse(source).Root;
        Assert.Equal(0, root.PreambleLength);
        Assert.Equal(root.BodyOffset, root.DelimiterOffset(0));
        Assert.EndsWith("\r\n\r\n", MimeTest.Text(root.HeaderBytes), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EntityRanges_TileTheParentBody()
    {
        var source = MimeTest.Crlf("Content-Type: multipart/mixed; boundary=b\n\npre\n--b\n\none\n--b\n\ntwo\n--b--\nepi\n");
        var root = MimeTest.Parse(source).Root;
        Assert.Equal("\r\n--b\r\n", MimeTest.Text(source.AsMemory(root.DelimiterOffset(0), root.Children[0].Offset - root.DelimiterOffset(0))));
        Assert.Equal(root.Children[0].Offset + root.Children[0].Length, root.DelimiterOffset(1));
        Assert.Equal(root.Children[1].Offset + root.Children[1].Length, root.CloseDelimiterOffset);
    }
}
