using System.Security.Cryptography;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Webhook;

namespace SmtpAmpProxy.Tests.Webhook;

public sealed class WebhookOptionsTests
{
    private static IReadOnlyList<string> Validate(WebhookOptions webhook) =>
        [.. ProxyOptionsValidator.Validate(new ProxyOptions { Upstream = new UpstreamOptions { Mode = UpstreamMode.Directory } } with { Webhook = webhook }, Path.GetTempPath())];

    [Fact]
    public void Defaults_AreOffAndValid()
    {
        var options = new WebhookOptions();

        Assert.False(options.IsEnabled);
        Assert.False(options.TagMessages);
        Assert.Equal(TimeSpan.FromMinutes(5), options.MaxSkew);
        Assert.Empty(Validate(options));
    }

    [Theory]
    [InlineData("127.0.0.1:8443", "", "Proxy:Webhook:PublicKey: is empty")]
    [InlineData("127.0.0.1:8443", "MFkw", "Proxy:Webhook:PublicKey: is not")]
    [InlineData("localhost:8443", "KEY", "Proxy:Webhook:Endpoint:")]
    [InlineData("127.0.0.1", "KEY", "Proxy:Webhook:Endpoint:")]
    public void Validate_BadSetting_NamesTheKey(string endpoint, string key, string expected)
    {
        using var pair = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = key == "KEY" ? Convert.ToBase64String(pair.ExportSubjectPublicKeyInfo()) : key;

        var error = Assert.Single(Validate(new WebhookOptions { Endpoint = endpoint, PublicKey = publicKey }));

        Assert.StartsWith(expected, error);
    }

    [Fact]
    public void Validate_NonPositiveLimits_NameTheirKeys()
    {
        var errors = Validate(new WebhookOptions { MaxSkew = TimeSpan.Zero, BodyTimeout = TimeSpan.Zero, MaxBodyBytes = 0 });

        Assert.Equal(["Proxy:Webhook:MaxSkew", "Proxy:Webhook:BodyTimeout", "Proxy:Webhook:MaxBodyBytes"], errors.Select(e => e[..e.IndexOf(": ", StringComparison.Ordinal)]));
    }
}
