using System.Security.Cryptography;
using System.Text;
using SendGrid.Helpers.EventWebhook;
using SmtpAmpProxy.Webhook;

namespace SmtpAmpProxy.Tests.Webhook;

/// <summary>
/// The verifier against signatures made here, and against SendGrid's own C# library in both
/// directions, so the proxy and SendGrid agree on what is signed and how it is encoded.
/// </summary>
public sealed class SignedEventVerifierTests
{
    private const string Batch = """[{"email":"a@example.com","event":"open","sg_content_type":"amp","timestamp":1556901948}]""";

    private static SignedEventVerifier Verifier(string publicKey)
    {
        Assert.True(SignedEventVerifier.TryCreate(publicKey, out var verifier, out var error), error);
        return verifier!;
    }

    [Fact]
    public void Verify_SignatureOverTimestampAndBody_IsAccepted()
    {
        using var sender = new EventWebhookSender();
        var body = Encoding.UTF8.GetBytes(Batch);

        Assert.True(Verifier(sender.PublicKey).Verify("1700000000", body, sender.Sign("1700000000", body)));
    }

    [Theory]
    [InlineData("body")]
    [InlineData("timestamp")]
    [InlineData("signature")]
    [InlineData("other-key")]
    public void Verify_AnythingChanged_IsRefused(string change)
    {
        using var sender = new EventWebhookSender();
        using var other = new EventWebhookSender();
        var body = Encoding.UTF8.GetBytes(Batch);
        var signature = sender.Sign("1700000000", body);
        var verifier = Verifier(change == "other-key" ? other.PublicKey : sender.PublicKey);

        var accepted = change switch
        {
            "body" => verifier.Verify("1700000000", Encoding.UTF8.GetBytes(Batch.Replace("amp", "html", StringComparison.Ordinal)), signature),
            "timestamp" => verifier.Verify("1700000001", body, signature),
            // Flip a bit of the last byte: setting it to a fixed value leaves the signature as it was one time in 256.
            "signature" => verifier.Verify("1700000000", body, Convert.ToBase64String(FlipLastBit(Convert.FromBase64String(signature)))),
            _ => verifier.Verify("1700000000", body, signature),
        };

        Assert.False(accepted);
    }

    private static byte[] FlipLastBit(byte[] der)
    {
        der[^1] ^= 0x01;
        return der;
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("AAAA")]
    public void Verify_SignatureNotDerBase64_IsRefused(string signature)
    {
        using var sender = new EventWebhookSender();

        Assert.False(Verifier(sender.PublicKey).Verify("1700000000", Encoding.UTF8.GetBytes(Batch), signature));
    }

    [Fact]
    public void Verify_OverlongSignatureHeader_IsRefusedWithoutDecoding()
    {
        using var sender = new EventWebhookSender();

        Assert.False(Verifier(sender.PublicKey).Verify("1700000000", Encoding.UTF8.GetBytes(Batch), new string('A', 100_000)));
    }

    [Fact]
    public void SendGridLibrary_VerifiesTheTestsSignatures()
    {
        using var sender = new EventWebhookSender();
        var body = Encoding.UTF8.GetBytes(Batch);
        var validator = new RequestValidator();
        var key = validator.ConvertPublicKeyToECDSA(sender.PublicKey);

        Assert.True(validator.VerifySignature(key, Batch, sender.Sign("1700000000", body), "1700000000"));
        Assert.False(validator.VerifySignature(key, Batch + " ", sender.Sign("1700000000", body), "1700000000"));
    }

    [Fact]
    public void Verifier_AcceptsSignaturesMadeBySendGridsEcdsaLibrary()
    {
        // The Stark Bank ECDSA library is what SendGrid's C# package verifies with; here it signs.
        using var pair = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var privateKey = EllipticCurve.PrivateKey.fromPem(pair.ExportECPrivateKeyPem());
        var signature = EllipticCurve.Ecdsa.sign("1700000000" + Batch, privateKey).toBase64();
        var publicKey = Convert.ToBase64String(pair.ExportSubjectPublicKeyInfo());

        var verifier = Verifier(publicKey);

        Assert.True(verifier.Verify("1700000000", Encoding.UTF8.GetBytes(Batch), signature));
        Assert.False(verifier.Verify("1700000001", Encoding.UTF8.GetBytes(Batch), signature));
    }

    [Fact]
    public void TryCreate_KeyAsPemBlock_IsAccepted()
    {
        using var sender = new EventWebhookSender();
        var body = Encoding.UTF8.GetBytes(Batch);

        Assert.True(Verifier(sender.Key.ExportSubjectPublicKeyInfoPem()).Verify("1", body, sender.Sign("1", body)));
    }

    [Theory]
    [InlineData("P-384")]
    [InlineData("RSA")]
    [InlineData("garbage")]
    [InlineData("trailing")]
    public void TryCreate_NotAP256PublicKey_IsRefusedWithAReason(string kind)
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var text = kind switch
        {
            "P-384" => Convert.ToBase64String(p384.ExportSubjectPublicKeyInfo()),
            "RSA" => Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo()),
            "trailing" => Convert.ToBase64String([.. p256.ExportSubjectPublicKeyInfo(), 0, 0, 0]),
            _ => "not a key",
        };

        Assert.False(SignedEventVerifier.TryCreate(text, out var verifier, out var error));
        Assert.Null(verifier);
        Assert.NotEmpty(error);
    }
}
