using System.Runtime.InteropServices;
using SmtpAmpProxy.Mime.Tests.Support;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Mime.Tests.Writing;

public sealed class RewriteTests
{
    public static TheoryData<string> Files => Support.Corpus.Names();

    private static int[] Reversed(int n) => Enumerable.Range(0, n).Reverse().ToArray();

    [Fact]
    public void GetSegments_AmpAfterHtmlMovedBeforeHtml_ChildrenInNewOrder()
    {
        var source = Support.Corpus.Read("hand/amp-after-html.eml");
        Assert.Null(RewriteCheck.Verify(source, "/", [0, 2, 1]));

        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [0, 2, 1]);
        var output = MimeTest.Text(MimeTest.Rewrite(source, parsed, rewrite));
        Assert.StartsWith(MimeTest.Text(parsed.Root.HeaderBytes) + "This is a multi-part message in MIME format.\r\n", output, StringComparison.Ordinal);
        Assert.EndsWith("\r\n--alt-7--\r\n\r\n", output, StringComparison.Ordinal);
        Assert.Equal(source.Length, output.Length);
    }

    [Fact]
    public void GetSegments_DropChild_ChildGoneRestIntact()
    {
        var source = Support.Corpus.Read("hand/amp-alternative.eml");
        Assert.Null(RewriteCheck.Verify(source, "/", [1, 2]));
        Assert.Null(RewriteCheck.Verify(source, "/", [0]));
    }

    [Fact]
    public void GetSegments_MissingCloseDelimiterReordered_CloseDelimiterSynthesized()
    {
        var source = Support.Corpus.Read("hand/missing-close-boundary.eml");
        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [1, 0]);
        var output = MimeTest.Rewrite(source, parsed, rewrite);

        Assert.EndsWith("\r\n--XyZ--\r\n", MimeTest.Text(output), StringComparison.Ordinal);
        var reparsed = MimeTest.Parse(output).Root;
        Assert.True(reparsed.HasCloseDelimiter);
        Assert.Null(RewriteCheck.Verify(source, "/", [1, 0]));
    }

    [Fact]
    public void GetSegments_MissingCloseWithoutFinalNewline_CloseDelimiterOnItsOwnLine()
    {
        var source = Support.Corpus.Read("hand/missing-close-no-final-newline.eml");
        Assert.Null(RewriteCheck.Verify(source, "/", [1, 0]));
        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [1, 0]);
        Assert.EndsWith("first\r\n--z--", MimeTest.Text(MimeTest.Rewrite(source, parsed, rewrite)), StringComparison.Ordinal);
    }

    [Fact]
    public void GetSegments_InnerMissingCloseReordered_ClosedBeforeOuterDelimiter()
    {
        var source = Support.Corpus.Read("hand/nested-missing-inner-close.eml");
        Assert.Null(RewriteCheck.Verify(source, "/1", [1, 0]));
        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root.Children[0], [1, 0]);
        var text = MimeTest.Text(MimeTest.Rewrite(source, parsed, rewrite));
        Assert.Contains("plain\r\n--inner--\r\n--outer\r\n", text, StringComparison.Ordinal);
        Assert.Equal(2, MimeTest.Parse(MimeTest.Bytes(text)).Root.Children.Count);
    }

    [Fact]
    public void GetSegments_LfOnlyMissingClose_SynthesizesLf()
    {
        var source = MimeTest.Bytes("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo");
        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [1, 0]);
        Assert.Equal("Content-Type: multipart/mixed; boundary=b\n\n--b\n\ntwo\n--b\n\none\n--b--", MimeTest.Text(MimeTest.Rewrite(source, parsed, rewrite)));
    }

    [Fact]
    public void GetSegments_EmptyChildBeforeDelimiter_LineEndSynthesizedSoBytesKept()
    {
        var source = Support.Corpus.Read("hand/empty-parts.eml");
        Assert.Null(RewriteCheck.Verify(source, "/", [2, 1, 0]));
        Assert.Null(RewriteCheck.Verify(source, "/", [2, 0]));
    }

    [Fact]
    public void GetSegments_OuterAndInnerBothRewritten_BothApplied()
    {
        var source = Support.Corpus.Read("hand/nested-three-levels.eml");
        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [1, 0]);
        rewrite.SetChildOrder(parsed.Root.Children[0], [2, 0, 1]);
        rewrite.SetChildOrder(parsed.Root.Children[0].Children[1], [1, 0]);
        var reparsed = MimeTest.Parse(MimeTest.Rewrite(source, parsed, rewrite)).Root;

        Assert.Equal("application/pdf", reparsed.Children[0].ContentType.MimeType);
        var alternative = reparsed.Children[1];
        Assert.Equal(["text/x-amp-html", "text/plain", "multipart/related"], alternative.Children.Select(c => c.ContentType.MimeType));
        Assert.Equal(["image/png", "text/html"], alternative.Children[2].Children.Select(c => c.ContentType.MimeType));
        Assert.Equal(parsed.Root.Children[1].Bytes.ToArray(), reparsed.Children[0].Bytes.ToArray());
    }

    [Fact]
    public void GetSegments_IdentityOrder_OutputEqualsInput()
    {
        var source = Support.Corpus.Read("py/../python/py-mixed-attachments.eml");
        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [0, 1, 2]);
        Assert.Equal(source, MimeTest.Rewrite(source, parsed, rewrite));
    }

    [Fact]
    public void GetSegments_Rewrite_UnchangedRangesAreSlicesOfSource()
    {
        var source = Support.Corpus.Read("python/py-mixed-attachments.eml");
        var parsed = MimeTest.Parse(source);
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [2, 1, 0]);
        var segments = MimeWriter.GetSegments(source, parsed, rewrite);
        Assert.All(segments, s =>
        {
            Assert.True(MemoryMarshal.TryGetArray(s, out var array));
            Assert.Same(source, array.Array);
        });
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void GetSegments_CorpusMultipartsReversedOrTrimmed_ReparseMatches(string file)
    {
        var source = Support.Corpus.Read(file);
        var failures = new List<string>();
        foreach (var multipart in RewriteCheck.Multiparts(MimeTest.Parse(source).Root))
        {
            var n = multipart.Children.Count;
            int[][] orders = n > 1 ? [Reversed(n), Enumerable.Range(1, n - 1).ToArray()] : [[0]];
            foreach (var order in orders)
            {
                if (RewriteCheck.Verify(source, multipart.Path, order) is { } failure)
                {
                    failures.Add(failure);
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void SetChildOrder_InvalidOrders_ArgumentException()
    {
        var parsed = MimeTest.Parse(Support.Corpus.Read("hand/amp-alternative.eml"));
        var rewrite = new MimeRewrite();
        Assert.Throws<ArgumentException>(() => rewrite.SetChildOrder(parsed.Root, []));
        Assert.Throws<ArgumentException>(() => rewrite.SetChildOrder(parsed.Root, [0, 0]));
        Assert.Throws<ArgumentException>(() => rewrite.SetChildOrder(parsed.Root, [3]));
        Assert.Throws<ArgumentException>(() => rewrite.SetChildOrder(parsed.Root, [-1]));
        Assert.Throws<ArgumentException>(() => rewrite.SetChildOrder(parsed.Root.Children[0], [0]));
        Assert.True(rewrite.IsEmpty);
    }

    [Fact]
    public void SetChildOrder_SetTwice_LastOrderKept()
    {
        var parsed = MimeTest.Parse(Support.Corpus.Read("hand/amp-alternative.eml"));
        var rewrite = new MimeRewrite();
        rewrite.SetChildOrder(parsed.Root, [2, 1, 0]);
        rewrite.SetChildOrder(parsed.Root, [1, 0, 2]);
        Assert.Equal([1, 0, 2], rewrite.GetChildOrder(parsed.Root));
        Assert.False(rewrite.IsEmpty);
    }

    [Fact]
    public void GetSegments_OtherSource_ArgumentException()
    {
        var source = Support.Corpus.Read("hand/amp-alternative.eml");
        var parsed = MimeTest.Parse(source);
        Assert.Throws<ArgumentException>(() => MimeWriter.GetSegments(source.AsMemory(1), parsed, new MimeRewrite()));
    }
}
