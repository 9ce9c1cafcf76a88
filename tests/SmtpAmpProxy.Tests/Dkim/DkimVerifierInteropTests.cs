using System.Security.Cryptography;
using System.Text;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Normalizer;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Tests.Support;
using static SmtpAmpProxy.Tests.Dkim.DkimTestSupport;

namespace SmtpAmpProxy.Tests.Dkim;

/// <summary>Every signature the signer makes is checked by dkimpy, a verifier we did not write.</summary>
public sealed class DkimVerifierInteropTests
{
    private const string Domain = "example.com";
    private const string Selector = "amp2024";

    private static readonly string FoldedHeaders =
        "From: \"Sender, with comma\"\r\n <sender@example.com>\r\n" +
        "To: first@example.net,\r\n\tsecond@example.net,\r\n  third@example.net\r\n" +
        "Cc: copy@example.org\r\n" +
        "Subject: a subject folded\r\n over   three\r\n\tlines  \r\n" +
        "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n" +
        "Message-ID: <folded@example.com>\r\n" +
        "MIME-Version: 1.0\r\n" +
        "Content-Type: text/plain;\r\n charset=\"us-ascii\"\r\n" +
        "\r\n" +
        "Plain body.\r\n";

    [Fact]
    public void Sign_FoldedHeadersWithPkcs1Key_Verifies()
    {
        RequireDkimpy();
        using var directory = new TempDirectory();
        using var rsa = RSA.Create(2048);
        using var ring = LoadRing(directory, rsa, pkcs8: false);

        var signed = SignWith(ring, One(Ascii(FoldedHeaders)));

        AssertVerifies(directory, signed, rsa);
    }

    [Fact]
    public void Sign_EightBitUtf8BodyAndHeaders_Verifies()
    {
        RequireDkimpy();
        using var directory = new TempDirectory();
        var message = Encoding.UTF8.GetBytes(
            "From: Jürgen <juergen@example.com>\r\n" +
            "To: zoë@example.net\r\n" +
            "Subject: Grüße ⚡ aus Köln\r\n" +
            "MIME-Version: 1.0\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            "Content-Transfer-Encoding: 8bit\r\n" +
            "\r\n" +
            "Schöne Grüße,  \t ⚡ und 日本語\r\n" +
            "zweite   Zeile\t\r\n");

        var signed = Join(SignShared(message));

        AssertVerifies(directory, signed, SharedKey().Rsa);
    }

    [Fact]
    public void Sign_TrailingEmptyLinesAndWhiteSpace_Verifies()
    {
        RequireDkimpy();
        using var directory = new TempDirectory();
        var message = Ascii("From: a@example.com\r\nSubject: trailing\r\n\r\n\r\nfirst  line \t\r\n \r\nlast line\r\n\r\n\r\n  \r\n\r\n");

        AssertVerifies(directory, Join(SignShared(message)), SharedKey().Rsa);
    }

    [Fact]
    public void Sign_EmptyBody_Verifies()
    {
        RequireDkimpy();
        using var directory = new TempDirectory();

        AssertVerifies(directory, Join(SignShared(Ascii("From: a@example.com\r\nSubject: empty\r\n\r\n"))), SharedKey().Rsa);
    }

    [Fact]
    public void Resign_RepairedMultipartInSeveralSegmentsWithPkcs8Key_VerifiesAndDropsOldSignature()
    {
        RequireDkimpy();
        using var directory = new TempDirectory();
        using var rsa = RSA.Create(2048);
        using var ring = LoadRing(directory, rsa, pkcs8: true);

        // The sender signed the message; the AMP part after the HTML part makes the normalizer move it.
        var original = TestMessages.Alternative("resign", TestMessages.Plain, TestMessages.Html, TestMessages.Amp);
        var senderSigned = Join(SignWith(ring, One(original)));
        AssertVerifies(directory, senderSigned, rsa);
        var result = AmpNormalizer.Normalize(senderSigned, new MimeLimits(), new AmpOptions());
        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        var repaired = AmpNormalizer.GetOutputSegments(senderSigned, result);
        Assert.True(repaired.Count > 1, "the repaired message should be assembled from several slices");
        Assert.False(Verify(directory, Join(repaired), rsa, Domain, Selector).Pass, "the repair should break the sender's signature");

        var policy = DkimRepairPolicy.Apply(repaired, repaired: true, DkimRepairAction.Resign, ring, SignTime);

        Assert.Equal(DkimOutcomeKind.Resigned, policy.Outcome.Kind);
        Assert.Equal(1, policy.Outcome.Removed);
        var output = Join(policy.Segments);
        Assert.Single(DkimSignatureScanner.Find(One(output)));
        AssertVerifies(directory, output, rsa);
    }

    [Fact]
    public void Sign_BodyTamperedAfterSigning_IsRejected()
    {
        RequireDkimpy();
        using var directory = new TempDirectory();
        var signed = Join(SignShared(Ascii(FoldedHeaders)));
        AssertVerifies(directory, signed, SharedKey().Rsa);

        var tampered = Ascii(Encoding.ASCII.GetString(signed).Replace("Plain body.", "Plain b0dy.", StringComparison.Ordinal));

        Assert.False(Verify(directory, tampered, SharedKey().Rsa, Domain, Selector).Pass);
    }

    [Fact]
    public void Sign_FromAddedAfterSigning_IsRejected()
    {
        RequireDkimpy();
        using var directory = new TempDirectory();
        var signed = Join(SignShared(Ascii(FoldedHeaders)));
        AssertVerifies(directory, signed, SharedKey().Rsa);
        var text = Encoding.ASCII.GetString(signed);
        var bodyAt = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 2;

        // The extra "from" in h= makes a second From break the signature (RFC 6376 §8.15).
        var withSecondFrom = Ascii(text[..bodyAt] + "From: attacker@evil.example\r\n" + text[bodyAt..]);

        Assert.False(Verify(directory, withSecondFrom, SharedKey().Rsa, Domain, Selector).Pass);
    }

    [Fact]
    public void Sign_VerifiedWithAnotherKey_IsRejected()
    {
        RequireDkimpy();
        using var directory = new TempDirectory();
        using var other = RSA.Create(1024);

        Assert.False(Verify(directory, Join(SignShared(Ascii(FoldedHeaders))), other, Domain, Selector).Pass);
    }

    private static IReadOnlyList<ReadOnlyMemory<byte>> SignShared(byte[] message)
    {
        var segments = Split(message, message.Length / 3, message.Length / 2);
        return [DkimSigner.Sign(segments, SharedKey(Domain, Selector), DateTimeOffset.UtcNow), .. segments];
    }

    private static IReadOnlyList<ReadOnlyMemory<byte>> SignWith(DkimKeyRing ring, IReadOnlyList<ReadOnlyMemory<byte>> message) =>
        [DkimSigner.Sign(message, ring.Find(Domain)!, DateTimeOffset.UtcNow), .. message];

    private static DkimKeyRing LoadRing(TempDirectory directory, RSA rsa, bool pkcs8)
    {
        WritePem(directory, "dkim.pem", rsa, pkcs8);
        return DkimKeyRing.Load(Options(new DkimKeyOptions { Domain = Domain, Selector = Selector, PrivateKeyPath = "dkim.pem" }), directory.Path);
    }

    private static void AssertVerifies(TempDirectory directory, IReadOnlyList<ReadOnlyMemory<byte>> segments, RSA rsa) =>
        AssertVerifies(directory, Join(segments), rsa);

    private static void AssertVerifies(TempDirectory directory, byte[] message, RSA rsa)
    {
        var (pass, log) = Verify(directory, message, rsa, Domain, Selector);
        Assert.True(pass, "dkimpy rejected the signature:\n" + log + "\n" + Encoding.UTF8.GetString(message));
    }
}
