using System.Text;
using SmtpAmpProxy.Dkim;
using static SmtpAmpProxy.Tests.Dkim.DkimTestSupport;

namespace SmtpAmpProxy.Tests.Dkim;

public sealed class DkimSignerTests
{
    private static readonly byte[] Message = Ascii(
        "From: Sender <sender@example.com>\r\n" +
        "To: a@example.net,\r\n b@example.net\r\n" +
        "Subject: folded\r\n  subject\r\n" +
        "X-Mailer: not signed\r\n" +
        "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n" +
        "Message-ID: <1@example.com>\r\n" +
        "Received: from somewhere\r\n" +
        "Received: from elsewhere\r\n" +
        "\r\n" +
        "Body  text\r\n\r\n");

    [Fact]
    public void Sign_Message_WritesOneFieldWithExpectedTags()
    {
        var field = Encoding.ASCII.GetString(DkimSigner.Sign(One(Message), SharedKey(), SignTime));
        var unfolded = field.Replace("\r\n\t", " ", StringComparison.Ordinal);

        Assert.StartsWith("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s2024; t=1700000000;", unfolded, StringComparison.Ordinal);
        Assert.EndsWith("\r\n", field, StringComparison.Ordinal);
        Assert.Equal("from:from:to:subject:date:message-id", DkimSignatureScanner.Tag(unfolded, "h"));
        Assert.Equal(Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData("Body text\r\n"u8)), DkimSignatureScanner.Tag(unfolded, "bh"));
    }

    [Fact]
    public void Sign_Message_FoldsLinesWithinSeventyEightColumns()
    {
        var field = Encoding.ASCII.GetString(DkimSigner.Sign(One(Message), SharedKey(), SignTime));
        var lines = field[..^2].Split("\r\n");

        Assert.True(lines.Length > 3);
        Assert.All(lines, line => Assert.InRange(line.Length, 1, 78));
        Assert.All(lines.Skip(1), line => Assert.Equal('\t', line[0]));
    }

    [Fact]
    public void Sign_RepeatedField_ListsItOncePerOccurrence()
    {
        var message = Ascii("From: a@example.com\r\nTo: x@example.net\r\nTo: y@example.net\r\n\r\nbody\r\n");

        var field = Encoding.ASCII.GetString(DkimSigner.Sign(One(message), SharedKey(), SignTime)).Replace("\r\n\t", " ", StringComparison.Ordinal);

        Assert.Equal("from:from:to:to", DkimSignatureScanner.Tag(field, "h"));
    }

    [Fact]
    public void Sign_SameMessageInAnySegmentation_GivesTheSameField()
    {
        var whole = DkimSigner.Sign(One(Message), SharedKey(), SignTime);

        // RSA PKCS#1 v1.5 is deterministic: equal fields mean equal hashes of headers and body.
        for (var cut = 1; cut < Message.Length; cut += 5)
        {
            Assert.Equal(whole, DkimSigner.Sign(Split(Message, cut / 2, cut), SharedKey(), SignTime));
        }
    }
}
