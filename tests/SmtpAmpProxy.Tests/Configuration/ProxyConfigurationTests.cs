using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Configuration;

public sealed class ProxyConfigurationTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = new();

    [Fact]
    public void ShippedFile_BindsToTheDesignDefaults()
    {
        var configuration = ProxyConfiguration.Load(["--config", Path.Combine(RepoPaths.Root, "config", "appsettings.json")], NoEnvironment);
        var options = configuration.Options;

        Assert.Equal("smtp-amp-proxy.local", options.ServerName);
        var listener = Assert.Single(options.EffectiveListen);
        Assert.Equal("0.0.0.0:2525", listener.Endpoint);
        Assert.Equal(TlsMode.StartTls, listener.Tls);
        Assert.Equal(AccessOptions.DefaultAllowedNetworks, options.Access.EffectiveAllowedNetworks);
        Assert.Equal(20_971_520, options.Limits.MaxMessageBytes);
        Assert.Equal(TimeSpan.FromMinutes(5), options.Limits.CommandTimeout);
        Assert.Equal(MisplacedAction.Reject, options.Amp.OnMisplaced);
        Assert.Equal(DuplicateAction.KeepFirst, options.Amp.OnDuplicate);
        Assert.Equal(UpstreamMode.Smtp, options.Upstream.Mode);
        Assert.Equal("smtp.sendgrid.net", options.Upstream.Host);
        Assert.Equal(587, options.Upstream.Port);
        Assert.Equal("apikey", options.Upstream.Username);
    }

    [Fact]
    public void AllowedNetworks_NotConfigured_LoopbackOnly()
    {
        // No file, no key: what a configuration that never mentions the networks gets.
        var options = new ProxyOptions();
        Assert.Null(options.Access.AllowedNetworks);
        Assert.Equal(["127.0.0.0/8", "::1/128"], options.Access.EffectiveAllowedNetworks);
    }

    [Fact]
    public void ShippedFile_NamesItsNetworksExplicitly_LoopbackOnly_AndBindsTheHardeningKeys()
    {
        var options = ProxyConfiguration.Load(["--config", Path.Combine(RepoPaths.Root, "config", "appsettings.json")], NoEnvironment).Options;
        Assert.Equal(["127.0.0.0/8", "::1/128"], options.Access.AllowedNetworks);
        Assert.Equal(30, options.Limits.MaxAuthFailuresPerAddress);
        Assert.Equal(TimeSpan.FromMinutes(2), options.Limits.HeloTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Limits.AuthTimeout);
        Assert.Equal("", options.Limits.SpillDirectory);
        Assert.Equal(BareCarriageReturnPolicy.Reject, options.Smtp.BareCarriageReturn);
    }

    [Fact]
    public void ShippedFile_WithoutApiKey_FailsValidationNamingThePassword()
    {
        var configuration = ProxyConfiguration.Load(["--config", Path.Combine(RepoPaths.Root, "config", "appsettings.json")], NoEnvironment);

        var errors = ProxyOptionsValidator.Validate(configuration.Options, RepoPaths.Root);

        var error = Assert.Single(errors);
        Assert.StartsWith("Proxy:Upstream:Password:", error);
        Assert.Contains("SENDGRID_API_KEY", error);
    }

    [Fact]
    public void Environment_ApiKeyAndDoubleUnderscoreKeys_Override()
    {
        var environment = new Dictionary<string, string?>
        {
            ["SENDGRID_API_KEY"] = "SG.test-key",
            ["Proxy__Upstream__Host"] = "relay.example.net",
            ["Proxy__Upstream__Port"] = "2525",
        };

        var options = ProxyConfiguration.Load(["--config", Path.Combine(RepoPaths.Root, "config", "appsettings.json")], environment).Options;

        Assert.Equal("SG.test-key", options.Upstream.Password);
        Assert.Equal("relay.example.net", options.Upstream.Host);
        Assert.Equal(2525, options.Upstream.Port);
        Assert.Empty(ProxyOptionsValidator.Validate(options, RepoPaths.Root));
    }

    [Fact]
    public void CommandLine_OverridesEnvironment()
    {
        var environment = new Dictionary<string, string?> { ["Proxy__Upstream__Port"] = "2525" };

        var options = ProxyConfiguration.Load(["--Proxy:Upstream:Port=465"], environment).Options;

        Assert.Equal(465, options.Upstream.Port);
    }

    [Fact]
    public void BadEnumValue_ThrowsNamingTheKey()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            ProxyConfiguration.Load(["--Proxy:Upstream:Tls=Sometimes"], NoEnvironment));

        Assert.Contains("Proxy:Upstream:Tls", error.Message);
    }

    [Fact]
    public void NonPositiveMaxAmpBytes_ThrowsNamingTheKey()
    {
        var error = Assert.Throws<ConfigurationException>(() => ProxyConfiguration.Load(["--Proxy:Amp:MaxAmpBytes=0"], NoEnvironment));

        Assert.Contains("MaxAmpBytes", error.Message);
    }

    [Fact]
    public void UnknownKey_ThrowsNamingIt()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            ProxyConfiguration.Load(["--Proxy:Upstream:Hostname=typo"], NoEnvironment));

        Assert.Contains("Hostname", error.Message);
    }

    [Fact]
    public void MissingConfigFile_ThrowsNamingIt()
    {
        var error = Assert.Throws<ConfigurationException>(() => ProxyConfiguration.Load(["--config", "/nonexistent/x.json"], NoEnvironment));

        Assert.Contains("/nonexistent/x.json", error.Message);
    }

    [Theory]
    [InlineData("--Proxy:Listen:0:Tls=Implicit", "Proxy:Tls:CertificatePath")]
    [InlineData("--Proxy:Tls:Require=true", "Proxy:Tls:CertificatePath")]
    [InlineData("--Proxy:Access:AllowedNetworks:0=10.0.0.0/33", "Proxy:Access:AllowedNetworks:0")]
    [InlineData("--Proxy:Listen:0:Endpoint=nowhere", "Proxy:Listen:0:Endpoint")]
    [InlineData("--Proxy:Limits:MaxRecipients=0", "Proxy:Limits:MaxRecipients")]
    [InlineData("--Proxy:Limits:MaxCommandLineBytes=100", "Proxy:Limits:MaxCommandLineBytes")]
    [InlineData("--Proxy:Upstream:CaCertificatePath=/nonexistent/ca.pem", "Proxy:Upstream:CaCertificatePath")]
    [InlineData("--Proxy:Dkim:OnRepair=Resign", "Proxy:Dkim:Keys")]
    [InlineData("--Proxy:Limits:MaxAuthFailuresPerAddress=2", "Proxy:Limits:MaxAuthFailuresPerAddress")]
    [InlineData("--Proxy:Limits:MaxAuthFailuresPerAddress=-1", "Proxy:Limits:MaxAuthFailuresPerAddress")]
    [InlineData("--Proxy:Limits:HeloTimeout=00:00:00", "Proxy:Limits:HeloTimeout")]
    [InlineData("--Proxy:Limits:AuthTimeout=-00:00:01", "Proxy:Limits:AuthTimeout")]
    [InlineData("--Proxy:Limits:SpillDirectory=/proc/version/spill", "Proxy:Limits:SpillDirectory")]
    public void Validation_NamesTheKeyAtFault(string argument, string key)
    {
        using var directory = new TempDirectory();
        var options = ProxyConfiguration.Load(
        [
            "--Proxy:Upstream:Password=x",
            $"--Proxy:Tls:CertificatePath={directory.File("absent.crt")}",
            $"--Proxy:Tls:KeyPath={directory.File("absent.key")}",
            argument,
        ], NoEnvironment).Options;

        var errors = ProxyOptionsValidator.Validate(options, directory.Path);

        Assert.Contains(errors, e => e.StartsWith(key + ":", StringComparison.Ordinal));
    }

    [Fact]
    public void DirectoryMode_NeedsNoApiKey()
    {
        var options = ProxyConfiguration.Load(["--Proxy:Upstream:Mode=Directory"], NoEnvironment).Options;

        Assert.Empty(ProxyOptionsValidator.Validate(options, RepoPaths.Root));
    }
}
