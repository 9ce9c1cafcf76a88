using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Tests.Support;
using static SmtpAmpProxy.Tests.Dkim.DkimTestSupport;

namespace SmtpAmpProxy.Tests.Dkim;

public sealed class DkimRepairPolicyTests : IDisposable
{
    private const string SenderSignature = "DKIM-Signature: v=1; d=example.com; s=old;\r\n\tb=AAAA\r\n";
    private const string EspSignature = "DKIM-Signature: v=1; d=esp.example; s=esp; b=BBBB\r\n";
    private const string Rest = "From: Sender <sender@example.com>\r\nSubject: hi\r\n\r\nbody\r\n";

    private static readonly byte[] Signed = Ascii(SenderSignature + EspSignature + Rest);

    private readonly TempDirectory _directory = new();
    private readonly DkimKeyRing _ring;

    public DkimRepairPolicyTests()
    {
        WritePem(_directory, "key.pem", SharedRsaKey, pkcs8: true);
        _ring = DkimKeyRing.Load(Options(new DkimKeyOptions { Domain = "example.com", Selector = "new", PrivateKeyPath = "key.pem" }), _directory.Path);
    }

    public void Dispose()
    {
        _ring.Dispose();
        _directory.Dispose();
    }

    [Theory]
    [InlineData(nameof(DkimRepairAction.Keep))]
    [InlineData(nameof(DkimRepairAction.Remove))]
    [InlineData(nameof(DkimRepairAction.Resign))]
    public void Apply_NotRepaired_ReturnsTheSameSegmentsUntouched(string actionName)
    {
        var action = Enum.Parse<DkimRepairAction>(actionName);
        var segments = One(Signed);

        var result = DkimRepairPolicy.Apply(segments, repaired: false, action, _ring, SignTime);

        Assert.Same(segments, result.Segments);
        Assert.Equal(DkimOutcomeKind.NotRepaired, result.Outcome.Kind);
    }

    [Fact]
    public void Apply_Keep_ReturnsSameSegmentsAndCountsSignatures()
    {
        var segments = One(Signed);

        var result = DkimRepairPolicy.Apply(segments, repaired: true, DkimRepairAction.Keep, _ring, SignTime);

        Assert.Same(segments, result.Segments);
        Assert.Equal(DkimOutcomeKind.Kept, result.Outcome.Kind);
        Assert.Equal(2, result.Outcome.Signatures);
        Assert.Equal("kept", result.Outcome.Code);
    }

    [Fact]
    public void Apply_Remove_DropsEverySignatureAndNothingElse()
    {
        var result = DkimRepairPolicy.Apply(Split(Signed, 10, 60), repaired: true, DkimRepairAction.Remove, _ring, SignTime);

        Assert.Equal(Ascii(Rest), Join(result.Segments));
        Assert.Equal(DkimOutcomeKind.Removed, result.Outcome.Kind);
        Assert.Equal(2, result.Outcome.Removed);
    }

    [Theory]
    [InlineData(nameof(DkimRepairAction.Keep))]
    [InlineData(nameof(DkimRepairAction.Remove))]
    public void Apply_NoSignature_SaysSoAndLeavesMessage(string actionName)
    {
        var action = Enum.Parse<DkimRepairAction>(actionName);
        var segments = One(Ascii(Rest));

        var result = DkimRepairPolicy.Apply(segments, repaired: true, action, _ring, SignTime);

        Assert.Same(segments, result.Segments);
        Assert.Equal(DkimOutcomeKind.NoSignature, result.Outcome.Kind);
    }

    [Fact]
    public void Apply_Resign_ReplacesOwnDomainSignatureKeepsOthersAndPrependsNew()
    {
        var result = DkimRepairPolicy.Apply(Split(Signed, 20, 70, 100), repaired: true, DkimRepairAction.Resign, _ring, SignTime);

        var output = Join(result.Segments);
        var signatures = DkimSignatureScanner.Find(One(output));
        Assert.Equal(["example.com", "esp.example"], signatures.Select(s => s.Domain));
        Assert.Equal("new", signatures[0].Selector);
        Assert.Equal(0, signatures[0].Offset);
        Assert.Equal(Ascii(EspSignature + Rest), output[signatures[0].Length..]);
        Assert.Equal(new DkimOutcome(DkimOutcomeKind.Resigned, 2, 1, "example.com", "example.com", "new"), result.Outcome);
        Assert.Contains("d=example.com s=new", result.Outcome.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ResignWithoutSignature_SignsAnyway()
    {
        var result = DkimRepairPolicy.Apply(One(Ascii(Rest)), repaired: true, DkimRepairAction.Resign, _ring, SignTime);

        Assert.Equal(DkimOutcomeKind.Resigned, result.Outcome.Kind);
        Assert.Equal(0, result.Outcome.Removed);
        Assert.Single(DkimSignatureScanner.Find(result.Segments));
    }

    [Fact]
    public void Apply_ResignNoKeyForFromDomain_BehavesLikeKeepAndSaysSo()
    {
        var segments = One(Ascii(SenderSignature + "From: someone@other.example\r\n\r\nbody\r\n"));

        var result = DkimRepairPolicy.Apply(segments, repaired: true, DkimRepairAction.Resign, _ring, SignTime);

        Assert.Same(segments, result.Segments);
        Assert.Equal(DkimOutcomeKind.NoKeyForDomain, result.Outcome.Kind);
        Assert.Equal("other.example", result.Outcome.FromDomain);
        Assert.Contains("other.example", result.Outcome.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ResignWithoutFromField_BehavesLikeKeep()
    {
        var segments = One(Ascii("Subject: no from\r\n\r\nbody\r\n"));

        var result = DkimRepairPolicy.Apply(segments, repaired: true, DkimRepairAction.Resign, _ring, SignTime);

        Assert.Same(segments, result.Segments);
        Assert.Equal(DkimOutcomeKind.NoKeyForDomain, result.Outcome.Kind);
        Assert.Null(result.Outcome.FromDomain);
    }

    [Fact]
    public void Apply_ResignWithEmptyRing_BehavesLikeKeep()
    {
        var segments = One(Signed);

        var result = DkimRepairPolicy.Apply(segments, repaired: true, DkimRepairAction.Resign, DkimKeyRing.Empty, SignTime);

        Assert.Same(segments, result.Segments);
        Assert.Equal(DkimOutcomeKind.NoKeyForDomain, result.Outcome.Kind);
    }
}
