using System.Text;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Tests.Support;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Mime.Tests.Limits;

/// <summary>Every limit is crossed: the result says which, the tree still tiles the input, nothing throws.</summary>
public sealed class LimitTests
{
    private static byte[] Nested(int levels)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < levels; i++)
        {
            sb.Append($"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n");
        }

        sb.Append("Content-Type: text/plain\r\n\r\ndeepest\r\n");
        for (var i = levels - 1; i >= 0; i--)
        {
            sb.Append($"--b{i}--\r\n");
        }

        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static byte[] ManyParts(int parts)
    {
        var sb = new StringBuilder("Content-Type: multipart/mixed; boundary=p\r\n\r\n");
        for (var i = 0; i < parts; i++)
        {
            sb.Append("--p\r\n\r\nx\r\n");
        }

        sb.Append("--p--\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static void AssertTilesSource(byte[] source, MimeParseResult result)
    {
        var walked = MimeTest.Concat(SegmentBuilder.Build(source, result.Root, new MimeRewrite()));
        Assert.Equal(string.Empty, MimeTest.FirstDifference(source, walked));
        Assert.Equal(source.Length, result.Root.Length);
    }

    [Fact]
    public void Parse_NestingAtMaxDepth_Ok()
    {
        var source = Nested(4);
        var result = MimeTest.Parse(source, new MimeLimits { MaxDepth = 4 });
        Assert.Equal(MimeParseStatus.Ok, result.Status);
        Assert.Null(result.Error);
    }

    [Fact]
    public void Parse_NestingBeyondMaxDepth_DepthExceeded()
    {
        var source = Nested(5);
        var result = MimeTest.Parse(source, new MimeLimits { MaxDepth = 4 });
        Assert.Equal(MimeParseStatus.DepthExceeded, result.Status);
        Assert.Contains("MaxDepth", result.Error, StringComparison.Ordinal);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_TenThousandLevelsDefaultLimits_DepthExceededWithoutStackOverflow()
    {
        var source = Nested(10_000);
        var result = MimeTest.Parse(source);
        Assert.Equal(MimeParseStatus.DepthExceeded, result.Status);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_HugeMaxDepth_DeepNestingParsedIteratively()
    {
        var source = Nested(10_000);
        var result = MimeTest.Parse(source, new MimeLimits { MaxDepth = int.MaxValue, MaxParts = int.MaxValue });
        Assert.Equal(MimeParseStatus.Ok, result.Status);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_PartsAtMaxParts_Ok()
    {
        var result = MimeTest.Parse(ManyParts(9), new MimeLimits { MaxParts = 10 });
        Assert.Equal(MimeParseStatus.Ok, result.Status);
        Assert.Equal(10, result.PartCount);
    }

    [Fact]
    public void Parse_PartsBeyondMaxParts_PartCountExceeded()
    {
        var source = ManyParts(10);
        var result = MimeTest.Parse(source, new MimeLimits { MaxParts = 10 });
        Assert.Equal(MimeParseStatus.PartCountExceeded, result.Status);
        Assert.Contains("MaxParts", result.Error, StringComparison.Ordinal);
        Assert.Equal(10, result.PartCount);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_HundredThousandEmptyParts_StopsAtDefaultLimit()
    {
        var source = ManyParts(100_000);
        var result = MimeTest.Parse(source);
        Assert.Equal(MimeParseStatus.PartCountExceeded, result.Status);
        Assert.Equal(new MimeLimits().MaxParts, result.PartCount);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_RootHeaderBeyondLimit_HeaderBlockTooLarge()
    {
        var source = Encoding.ASCII.GetBytes("Subject: " + new string('x', 2000) + "\r\n\r\nbody\r\n");
        var result = MimeTest.Parse(source, new MimeLimits { MaxHeaderBlockBytes = 1024 });
        Assert.Equal(MimeParseStatus.HeaderBlockTooLarge, result.Status);
        Assert.Contains("MaxHeaderBlockBytes", result.Error, StringComparison.Ordinal);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_ManyShortHeaderLinesBeyondLimit_HeaderBlockTooLarge()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < 200; i++)
        {
            sb.Append("X-H: v\r\n");
        }

        var source = Encoding.ASCII.GetBytes(sb + "\r\nbody");
        var result = MimeTest.Parse(source, new MimeLimits { MaxHeaderBlockBytes = 1000 });
        Assert.Equal(MimeParseStatus.HeaderBlockTooLarge, result.Status);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_HeaderBlockExactlyAtLimit_Ok()
    {
        var source = Encoding.ASCII.GetBytes("Subject: abc\r\n\r\nbody");
        var result = MimeTest.Parse(source, new MimeLimits { MaxHeaderBlockBytes = 16 });
        Assert.Equal(MimeParseStatus.Ok, result.Status);
        Assert.Equal(16, result.Root.HeaderLength);
        Assert.Equal(MimeParseStatus.HeaderBlockTooLarge, MimeTest.Parse(source, new MimeLimits { MaxHeaderBlockBytes = 15 }).Status);
    }

    [Fact]
    public void Parse_PartHeaderBeyondLimit_HeaderBlockTooLargeNamesPart()
    {
        var source = Encoding.ASCII.GetBytes("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Big: " + new string('y', 600) + "\r\n\r\nx\r\n--b--\r\n");
        var result = MimeTest.Parse(source, new MimeLimits { MaxHeaderBlockBytes = 512 });
        Assert.Equal(MimeParseStatus.HeaderBlockTooLarge, result.Status);
        Assert.Contains("/1", result.Error, StringComparison.Ordinal);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_LongLineInBodyOnly_NotAHeaderLimit()
    {
        var source = Encoding.ASCII.GetBytes("Subject: x\r\n\r\n" + new string('z', 600_000));
        Assert.Equal(MimeParseStatus.Ok, MimeTest.Parse(source).Status);
    }

    [Fact]
    public void GetSegments_LimitCrossed_StillRoundTrips()
    {
        var source = ManyParts(50);
        var result = MimeTest.Parse(source, new MimeLimits { MaxParts = 5 });
        Assert.Equal(source, MimeTest.Rewrite(source, result, new MimeRewrite()));
    }

    [Fact]
    public void Parse_ZeroLimits_NeverThrows()
    {
        var source = Nested(3);
        var result = MimeTest.Parse(source, new MimeLimits { MaxDepth = 0, MaxParts = 0, MaxHeaderBlockBytes = 0 });
        Assert.NotEqual(MimeParseStatus.Ok, result.Status);
        AssertTilesSource(source, result);
    }

    private static byte[] WithParameters(int parameters, bool boundaryLast = false, int sectionsOf = 0)
    {
        var sb = new StringBuilder("Content-Type: multipart/mixed");
        if (!boundaryLast)
        {
            sb.Append("; boundary=p");
        }

        for (var i = 0; i < parameters - 1; i++)
        {
            sb.Append(i < sectionsOf ? $"; name*{i}=s{i}" : $"; x{i}=y");
        }

        if (boundaryLast)
        {
            sb.Append("; boundary=p");
        }

        sb.Append("\r\n\r\n--p\r\nContent-Type: text/plain\r\n\r\nx\r\n--p--\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    [Fact]
    public void Parse_ParametersAtMaxParametersPerField_Ok()
    {
        var source = WithParameters(8);
        var result = MimeTest.Parse(source, new MimeLimits { MaxParametersPerField = 8 });
        Assert.Equal(MimeParseStatus.Ok, result.Status);
        Assert.Equal(8, result.Root.ContentType.Parameters.Count);
        Assert.Single(result.Root.Children);
    }

    [Fact]
    public void Parse_ParametersBeyondMaxParametersPerField_ParameterCountExceeded()
    {
        var source = WithParameters(9);
        var result = MimeTest.Parse(source, new MimeLimits { MaxParametersPerField = 8 });
        Assert.Equal(MimeParseStatus.ParameterCountExceeded, result.Status);
        Assert.Contains("MaxParametersPerField (8)", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Root.Children);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void Parse_BoundaryPastParameterCap_RefusedNotReadAsLeaf()
    {
        // Ignoring what lies past the cap would lose the boundary and with it every part behind it.
        var source = WithParameters(9, boundaryLast: true);
        var result = MimeTest.Parse(source, new MimeLimits { MaxParametersPerField = 8 });
        Assert.Equal(MimeParseStatus.ParameterCountExceeded, result.Status);
    }

    [Fact]
    public void Parse_Rfc2231SectionsCountOneByOne_ParameterCountExceeded()
    {
        var source = WithParameters(9, sectionsOf: 8);
        Assert.Equal(MimeParseStatus.Ok, MimeTest.Parse(source, new MimeLimits { MaxParametersPerField = 9 }).Status);
        Assert.Equal(MimeParseStatus.ParameterCountExceeded, MimeTest.Parse(source, new MimeLimits { MaxParametersPerField = 8 }).Status);
    }

    [Fact]
    public void Parse_ChildContentTypeBeyondParameterCap_ParameterCountExceededAtThatPart()
    {
        var source = Encoding.ASCII.GetBytes("Content-Type: multipart/mixed; boundary=p\r\n\r\n--p\r\nContent-Type: text/plain"
            + string.Concat(Enumerable.Range(0, 200).Select(i => $"; a{i}=b")) + "\r\n\r\nbody\r\n--p\r\n\r\nnext\r\n--p--\r\n");
        var result = MimeTest.Parse(source);
        Assert.Equal(MimeParseStatus.ParameterCountExceeded, result.Status);
        Assert.Contains("/1", result.Error, StringComparison.Ordinal);
        AssertTilesSource(source, result);
    }

    [Fact]
    public void MaxParametersPerField_Default_AllowsLongRfc2231FileName()
    {
        // A 255-character non-ASCII file name, percent-encoded and split into 75-byte sections as mail clients do.
        var encoded = string.Concat(Enumerable.Repeat("%E6%96%87", 255));
        var sections = encoded.Chunk(75).Select((c, i) => $";\r\n name*{i}*={(i == 0 ? "utf-8''" : "")}{new string(c)}").ToList();
        var source = Encoding.ASCII.GetBytes("Content-Type: text/plain; charset=utf-8" + string.Concat(sections) + "\r\n\r\nx\r\n");
        var result = MimeTest.Parse(source);
        Assert.Equal(MimeParseStatus.Ok, result.Status);
        Assert.Equal(new string('\u6587', 255), result.Root.ContentType.GetParameter("name"));
        Assert.True(sections.Count < new MimeLimits().MaxParametersPerField / 2, $"{sections.Count} sections");
    }
}
