using System.Security.Cryptography;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Tests.Support;
using static SmtpAmpProxy.Tests.Dkim.DkimTestSupport;

namespace SmtpAmpProxy.Tests.Dkim;

public sealed class DkimKeyRingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_Pkcs1OrPkcs8Pem_LoadsTheSameKey(bool pkcs8)
    {
        using var directory = new TempDirectory();
        var rsa = SharedRsaKey;
        WritePem(directory, "key.pem", rsa, pkcs8);

        // A relative path resolves against the content root.
        using var ring = DkimKeyRing.Load(Options(new DkimKeyOptions { Domain = "Example.COM.", Selector = "s1", PrivateKeyPath = "key.pem" }), directory.Path);

        var key = ring.Find("example.com");
        Assert.NotNull(key);
        Assert.Equal("example.com", key.Domain);
        Assert.Equal("s1", key.Selector);
        Assert.Equal(rsa.ExportSubjectPublicKeyInfo(), key.Rsa.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void Find_SubdomainOfKeyDomain_ReturnsParentKeyButNotSibling()
    {
        using var directory = new TempDirectory();
        var rsa = SharedRsaKey;
        var path = WritePem(directory, "key.pem", rsa, pkcs8: true);
        using var ring = DkimKeyRing.Load(Options(new DkimKeyOptions { Domain = "example.com", Selector = "s1", PrivateKeyPath = path }), "/nonexistent");

        Assert.Equal("example.com", ring.Find("news.EXAMPLE.com")?.Domain);
        Assert.Null(ring.Find("example.net"));
        Assert.Null(ring.Find("notexample.com"));
    }

    [Fact]
    public void Load_MissingFile_NamesTheConfigurationKey()
    {
        using var directory = new TempDirectory();
        var rsa = SharedRsaKey;
        var good = WritePem(directory, "good.pem", rsa, pkcs8: true);

        var error = Assert.Throws<ConfigurationException>(() => DkimKeyRing.Load(Options(
            new DkimKeyOptions { Domain = "a.example", Selector = "s", PrivateKeyPath = good },
            new DkimKeyOptions { Domain = "b.example", Selector = "s", PrivateKeyPath = "missing.pem" }), directory.Path));

        Assert.StartsWith("Proxy:Dkim:Keys:1:PrivateKeyPath", error.Message, StringComparison.Ordinal);
        Assert.Contains("missing.pem", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not a pem file")]
    [InlineData("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")]
    public void Load_NotAPrivateKey_NamesTheConfigurationKey(string content)
    {
        using var directory = new TempDirectory();
        File.WriteAllText(directory.File("bad.pem"), content);

        var error = Assert.Throws<ConfigurationException>(() => DkimKeyRing.Load(Options(
            new DkimKeyOptions { Domain = "a.example", Selector = "s", PrivateKeyPath = "bad.pem" }), directory.Path));

        Assert.StartsWith("Proxy:Dkim:Keys:0:PrivateKeyPath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_PublicKeyOnly_IsRefusedAtLoad()
    {
        using var directory = new TempDirectory();
        var rsa = SharedRsaKey;
        File.WriteAllText(directory.File("public.pem"), rsa.ExportSubjectPublicKeyInfoPem());

        var error = Assert.Throws<ConfigurationException>(() => DkimKeyRing.Load(Options(
            new DkimKeyOptions { Domain = "a.example", Selector = "s", PrivateKeyPath = "public.pem" }), directory.Path));

        Assert.StartsWith("Proxy:Dkim:Keys:0:PrivateKeyPath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_KeyUnder1024Bits_IsRefused()
    {
        using var directory = new TempDirectory();
        using var rsa = RSA.Create(512);
        WritePem(directory, "small.pem", rsa, pkcs8: false);

        var error = Assert.Throws<ConfigurationException>(() => DkimKeyRing.Load(Options(
            new DkimKeyOptions { Domain = "a.example", Selector = "s", PrivateKeyPath = "small.pem" }), directory.Path));

        Assert.Contains("512 bits", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a.example; x=1", "s", "Proxy:Dkim:Keys:0:Domain")]
    [InlineData("", "s", "Proxy:Dkim:Keys:0:Domain")]
    [InlineData("a.example", "sel\r\nBcc: x", "Proxy:Dkim:Keys:0:Selector")]
    [InlineData("a.example", "", "Proxy:Dkim:Keys:0:Selector")]
    public void Load_DomainOrSelectorThatCouldInjectTags_IsRefused(string domain, string selector, string configKey)
    {
        var error = Assert.Throws<ConfigurationException>(() => DkimKeyRing.Load(Options(
            new DkimKeyOptions { Domain = domain, Selector = selector, PrivateKeyPath = "unused.pem" }), "/nonexistent"));

        Assert.StartsWith(configKey, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TwoKeysForOneDomain_IsRefused()
    {
        using var directory = new TempDirectory();
        var rsa = SharedRsaKey;
        var path = WritePem(directory, "key.pem", rsa, pkcs8: true);

        var error = Assert.Throws<ConfigurationException>(() => DkimKeyRing.Load(Options(
            new DkimKeyOptions { Domain = "a.example", Selector = "s1", PrivateKeyPath = path },
            new DkimKeyOptions { Domain = "A.example", Selector = "s2", PrivateKeyPath = path }), directory.Path));

        Assert.StartsWith("Proxy:Dkim:Keys:1:Domain", error.Message, StringComparison.Ordinal);
    }
}
