using System.Security.Cryptography;
using System.Text;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Dkim;

/// <summary>Keys, segment splitting and the dkimpy verifier for the DKIM tests.</summary>
internal static class DkimTestSupport
{
    public static readonly DateTimeOffset SignTime = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static readonly Lazy<RSA> SharedRsa = new(() => RSA.Create(2048));

    private static readonly Lazy<bool> HasDkimpy = new(() =>
        File.Exists(Peers.DebianPython) && Peers.Run(Peers.DebianPython, ["-c", "import dkim"], TimeSpan.FromSeconds(30)).ExitCode == 0);

    /// <summary>One 2048-bit key for the tests that do not care which: key generation is slow.</summary>
    public static DkimKey SharedKey(string domain = "example.com", string selector = "s2024") => new(domain, selector, SharedRsa.Value);

    public static RSA SharedRsaKey => SharedRsa.Value;

    public static byte[] Ascii(string text) => Encoding.UTF8.GetBytes(text);

    public static IReadOnlyList<ReadOnlyMemory<byte>> One(byte[] message) => [message];

    /// <summary>The message cut at the given offsets into separate segments.</summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> Split(byte[] message, params int[] cuts)
    {
        var segments = new List<ReadOnlyMemory<byte>>();
        var start = 0;
        foreach (var cut in cuts.Order())
        {
            segments.Add(message.AsMemory(start, cut - start));
            start = cut;
        }

        segments.Add(message.AsMemory(start));
        return segments;
    }

    public static byte[] Join(IReadOnlyList<ReadOnlyMemory<byte>> segments)
    {
        var output = new MemoryStream();
        foreach (var segment in segments)
        {
            output.Write(segment.Span);
        }

        return output.ToArray();
    }

    public static string Text(IReadOnlyList<ReadOnlyMemory<byte>> segments) => Encoding.UTF8.GetString(Join(segments));

    /// <summary>Writes the key as PEM (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY") and returns the path.</summary>
    public static string WritePem(TempDirectory directory, string name, RSA rsa, bool pkcs8)
    {
        var path = directory.File(name);
        File.WriteAllText(path, pkcs8 ? rsa.ExportPkcs8PrivateKeyPem() : rsa.ExportRSAPrivateKeyPem());
        return path;
    }

    public static DkimOptions Options(params DkimKeyOptions[] keys) => new() { OnRepair = DkimRepairAction.Resign, Keys = keys };

    /// <summary>/usr/bin/python3 with dkimpy, or the test is skipped saying what is missing.</summary>
    public static string RequireDkimpy()
    {
        if (!HasDkimpy.Value)
        {
            Assert.Skip("dkimpy is not installed for /usr/bin/python3 (apt-get install python3-dkim)");
        }

        return Peers.DebianPython;
    }

    /// <summary>
    /// Runs dkimpy on the message with <paramref name="publicKey"/> published (to it alone) at
    /// <c>selector._domainkey.domain</c>; true when the first signature verifies.
    /// </summary>
    public static (bool Pass, string Log) Verify(TempDirectory directory, byte[] message, RSA publicKey, string domain, string selector)
    {
        var python = RequireDkimpy();
        var messageFile = directory.File($"message-{Guid.NewGuid():N}.eml");
        var keyFile = directory.File($"key-{Guid.NewGuid():N}.txt");
        File.WriteAllBytes(messageFile, message);
        File.WriteAllText(keyFile, Convert.ToBase64String(publicKey.ExportSubjectPublicKeyInfo()));
        var script = Path.Combine(AppContext.BaseDirectory, "Peers", "dkim_verify.py");
        var result = Peers.Run(python, [script, messageFile, keyFile, $"{selector}._domainkey.{domain}"], TimeSpan.FromSeconds(60));
        var verdict = result.StdOut.Trim();
        Assert.True(verdict is "pass" or "fail", $"dkim_verify.py failed to run: {result.StdOut}\n{result.StdErr}");

        // Two verifiers we did not write, one in-process: they must reach the same verdict.
        var (mimeKitPass, mimeKitLog) = VerifyWithMimeKit(message, publicKey, domain, selector);
        Assert.True(mimeKitPass == (verdict == "pass"), $"dkimpy says {verdict}, MimeKit's DkimVerifier says {(mimeKitPass ? "pass" : "fail")} ({mimeKitLog})\n{result.StdErr}");
        return (verdict == "pass", result.StdErr);
    }

    /// <summary>MimeKit's DkimVerifier on the first DKIM-Signature, the key served for <c>selector._domainkey.domain</c> only.</summary>
    public static (bool Pass, string Log) VerifyWithMimeKit(byte[] message, RSA publicKey, string domain, string selector)
    {
        var parsed = MimeKit.MimeMessage.Load(new MemoryStream(message));
        var index = parsed.Headers.IndexOf(MimeKit.HeaderId.DkimSignature);
        if (index < 0)
        {
            return (false, "no DKIM-Signature");
        }

        var verifier = new MimeKit.Cryptography.DkimVerifier(new SingleKeyLocator(publicKey, $"{selector}._domainkey.{domain}"));
        try
        {
            return (verifier.Verify(parsed, parsed.Headers[index]), "verified");
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            return (false, e.GetType().Name + ": " + e.Message);
        }
    }

    /// <summary>Serves one public key as the TXT record "v=DKIM1; k=rsa; p=…" of one name, as dkim_verify.py does.</summary>
    private sealed class SingleKeyLocator(RSA publicKey, string recordName) : MimeKit.Cryptography.DkimPublicKeyLocatorBase
    {
        private readonly string _record = "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(publicKey.ExportSubjectPublicKeyInfo());

        public override Org.BouncyCastle.Crypto.AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            string.Equals($"{selector}._domainkey.{domain}".TrimEnd('.'), recordName, StringComparison.OrdinalIgnoreCase)
                ? GetPublicKey(_record)
                : throw new InvalidOperationException($"no key published at {selector}._domainkey.{domain}");

        public override Task<Org.BouncyCastle.Crypto.AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            Task.FromResult(LocatePublicKey(methods, domain, selector, cancellationToken));
    }
}
