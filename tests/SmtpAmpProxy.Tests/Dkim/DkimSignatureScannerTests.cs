using SmtpAmpProxy.Dkim;
using static SmtpAmpProxy.Tests.Dkim.DkimTestSupport;

namespace SmtpAmpProxy.Tests.Dkim;

public sealed class DkimSignatureScannerTests
{
    private const string FoldedSender =
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=Example.COM;\r\n" +
        "\ts=sel1; h=from:to:subject;\r\n" +
        "\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n" +
        "\tb=AAAA\r\n" +
        "\t BBBB\r\n";

    private const string EspSignature = "dkim-signature:v=1; d= esp.\r\n example; s=esp; b=CCCC\r\n";

    private const string Rest =
        "From: Sender <sender@example.com>\r\n" +
        "Subject: hello\r\n" +
        "\r\n" +
        "Body line.\r\n" +
        "DKIM-Signature: v=1; d=body.example; s=x; b=not-a-header\r\n";

    private static readonly byte[] Message = Ascii("Received: from a by b\r\n" + FoldedSender + EspSignature + Rest);

    [Fact]
    public void Find_SeveralFoldedSignatures_ReturnsEachWithUnfoldedDomain()
    {
        var found = DkimSignatureScanner.Find(One(Message));

        Assert.Equal(["example.com", "esp.example"], found.Select(s => s.Domain));
        Assert.Equal(["sel1", "esp"], found.Select(s => s.Selector));
        Assert.Equal(FoldedSender.Length, found[0].Length);
        Assert.Equal("Received: from a by b\r\n".Length, found[0].Offset);
        Assert.DoesNotContain('\n', found[0].Value);
    }

    [Fact]
    public void Find_SignatureInBody_IsNotReported()
    {
        var found = DkimSignatureScanner.Find(One(Message));

        Assert.DoesNotContain(found, s => s.Domain == "body.example");
    }

    [Fact]
    public void RemoveAll_SeveralSignatures_LeavesEveryOtherByte()
    {
        var removed = DkimSignatureScanner.RemoveAll(One(Message));

        Assert.Equal(Ascii("Received: from a by b\r\n" + Rest), Join(removed));
    }

    [Fact]
    public void RemoveDomain_DifferentDomains_RemovesOnlyThatDomainAnyCase()
    {
        var removed = DkimSignatureScanner.RemoveDomain(One(Message), "EXAMPLE.com");

        Assert.Equal(Ascii("Received: from a by b\r\n" + EspSignature + Rest), Join(removed));
    }

    [Fact]
    public void RemoveDomain_NoMatchingSignature_ReturnsTheSameSegments()
    {
        var segments = One(Message);

        Assert.Same(segments, DkimSignatureScanner.RemoveDomain(segments, "other.example"));
    }

    [Fact]
    public void RemoveAll_MessageInManySegments_SameBytesAsContiguousAndNoCopy()
    {
        var expected = Ascii("Received: from a by b\r\n" + Rest);
        for (var cut = 1; cut < Message.Length; cut += 7)
        {
            var segments = Split(Message, cut, Math.Min(Message.Length, cut + 3));

            var removed = DkimSignatureScanner.RemoveAll(segments);

            Assert.Equal(expected, Join(removed));

            // Every output segment is a slice of the input array: removal copies nothing.
            Assert.All(removed, s => Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(s, out var array) && array.Array == Message));
        }
    }

    [Fact]
    public void RemoveAll_SignatureIsFirstAndLastField_RemovesBoth()
    {
        var message = Ascii("DKIM-Signature: d=a.example; b=1\r\nFrom: x@a.example\r\nDKIM-Signature: d=a.example;\r\n b=2\r\n\r\nbody\r\n");

        Assert.Equal(Ascii("From: x@a.example\r\n\r\nbody\r\n"), Join(DkimSignatureScanner.RemoveAll(One(message))));
    }

    [Fact]
    public void Find_HeaderOnlyMessageWithoutEmptyLine_FindsSignature()
    {
        var found = DkimSignatureScanner.Find(One(Ascii("From: x@a.example\r\nDKIM-Signature: d=a.example; b=1\r\n")));

        Assert.Equal("a.example", Assert.Single(found).Domain);
    }

    [Fact]
    public void Find_SignatureWithoutDomainTag_ReportsNullDomain()
    {
        var found = DkimSignatureScanner.Find(One(Ascii("DKIM-Signature: v=1; s=x; b=1\r\n\r\n")));

        Assert.Null(Assert.Single(found).Domain);
    }

    [Theory]
    [InlineData("v=1; d=example.com; s=a", "d", "example.com")]
    [InlineData(" d = exa mple.com ;", "d", "example.com")]
    [InlineData("D=upper.example; d=lower.example", "d", "lower.example")]
    [InlineData("v=1; s=a", "d", null)]
    public void Tag_TagList_ReturnsValueWithoutWhiteSpaceAndCaseSensitiveName(string tagList, string name, string? expected)
    {
        Assert.Equal(expected, DkimSignatureScanner.Tag(tagList, name));
    }

    [Theory]
    [InlineData("From: a\r\n\r\nbody", 9, 11)]
    [InlineData("\r\nbody", 0, 2)]
    [InlineData("From: a\r\nTo: b\r\n", 16, 16)]
    [InlineData("From: a\r\nTo: b\r\n\r\n", 16, 18)]
    public void FindHeaderEnd_AnySplit_FindsSameEnd(string text, long headerEnd, long bodyStart)
    {
        var message = Ascii(text);
        for (var i = 0; i <= message.Length; i++)
        {
            for (var j = i; j <= message.Length; j++)
            {
                Assert.Equal((headerEnd, bodyStart), MessageSegments.FindHeaderEnd(Split(message, i, j)));
            }
        }
    }
}
