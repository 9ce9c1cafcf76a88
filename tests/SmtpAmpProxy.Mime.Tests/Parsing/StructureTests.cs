using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Tests.Support;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Mime.Tests.Parsing;

public sealed class StructureTests
{
    private const string Alternative = """
        From: a@example.com
        Content-Type: multipart/alternative; boundary="b1"

        preamble
        --b1
        Content-Type: text/x-amp-html; charset=utf-8

        <html amp4email></html>
        --b1
        Content-Type: text/plain

        plain
        --b1--
        epilogue

        """;

    [Fact]
    public void Parse_SimpleAlternative_ChildrenAndRanges()
    {
        var source = MimeTest.Crlf(Alternative);
        var result = MimeTest.Parse(source);

        Assert.Equal(MimeParseStatus.Ok, result.Status);
        var root = result.Root;
        Assert.True(root.IsMultipart);
        Assert.Equal("b1", root.Boundary);
        Assert.Equal(2, root.Children.Count);
        Assert.Equal("text/x-amp-html", root.Children[0].ContentType.MimeType);
        Assert.Equal("Content-Type: text/x-amp-html; charset=utf-8\r\n\r\n<html amp4email></html>", MimeTest.Text(root.Children[0].Bytes));
        Assert.Equal("<html amp4email></html>", MimeTest.Text(root.Children[0].BodyBytes));
        Assert.Equal("plain", MimeTest.Text(root.Children[1].BodyBytes));
        Assert.Equal("preamble", MimeTest.Text(source.AsMemory(root.BodyOffset, root.PreambleLength)));
        Assert.True(root.HasCloseDelimiter);
        Assert.Equal("\r\n--b1--\r\n", MimeTest.Text(source.AsMemory(root.CloseDelimiterOffset, root.CloseDelimiterLength)));
        Assert.Equal("epilogue\r\n", MimeTest.Text(source.AsMemory(root.EpilogueOffset, root.EpilogueLength)));
        Assert.Equal("/2", root.Children[1].Path);
        Assert.Equal(1, root.Children[1].IndexInParent);
        Assert.Equal(source.Length, root.Length);
    }

    [Fact]
    public void GetSegments_EmptyRewrite_OneSegmentEqualToSource()
    {
        var source = MimeTest.Crlf(Alternative);
        var segments = MimeWriter.GetSegments(source, MimeTest.Parse(source), new MimeRewrite());
        Assert.Single(segments);
        Assert.Equal(source, segments[0].ToArray());
    }

    [Fact]
    public void GetSegments_Reversed_ChildrenSwapped()
    {
        var source = MimeTest.Crlf(Alternative);
        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [1, 0]);
        var output = MimeTest.Rewrite(source, parsed, rewrite);
        var reparsed = MimeTest.Parse(output);
        Assert.Equal("text/plain", reparsed.Root.Children[0].ContentType.MimeType);
        Assert.Equal("text/x-amp-html", reparsed.Root.Children[1].ContentType.MimeType);
        Assert.Equal(MimeTest.Text(parsed.Root.Children[1].Bytes), MimeTest.Text(reparsed.Root.Children[0].Bytes));
        Assert.Equal(MimeTest.Text(parsed.Root.Children[0].Bytes), MimeTest.Text(reparsed.Root.Children[1].Bytes));
    }
}
