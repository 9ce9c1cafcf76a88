using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.EndToEnd;

/// <summary>The AMP document checks through the real proxy: warn by default, reject or strip by option.</summary>
public sealed class AmpDocumentRelayTests
{
    private static async Task<string> SendAsync(ProxyTestHost proxy, byte[] message)
    {
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            return await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message));
        }
    }

    [Fact]
    public async Task InsecureUrl_Default_IsRelayedUnchangedAndLogged()
    {
        await using var proxy = await ProxyTestHost.StartAsync();
        var message = TestMessages.InsecureAmp("insecure");

        Assert.StartsWith("250", await SendAsync(proxy, message));

        var relayed = await File.ReadAllBytesAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        Assert.Equal(message, TestMessages.WithoutPrependedTrace(relayed));
        var warning = Assert.Single(proxy.Logs.WithEvent(3102));
        Assert.Equal("amp-insecure-url", warning.Field("Code"));
        Assert.Contains("http://images.example.com/a.png", warning.Field("Detail"));
    }

    [Fact]
    public async Task InsecureUrl_Reject_Gets554WithTheCode()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Amp:OnInsecureUrl"] = "Reject" });

        var reply = await SendAsync(proxy, TestMessages.InsecureAmp("insecure-reject"));

        Assert.StartsWith("554 5.6.0 amp-insecure-url", reply);
        Assert.Empty(proxy.OutboxFiles());
    }

    [Fact]
    public async Task InsecureUrl_Strip_RelaysTheFallbacksOnly()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Amp:OnInsecureUrl"] = "Strip" });

        Assert.StartsWith("250", await SendAsync(proxy, TestMessages.InsecureAmp("insecure-strip")));

        var summary = PythonMime.Summarise(Assert.Single(proxy.OutboxFiles()));
        Assert.Equal([TestMessages.Plain, TestMessages.Html], Assert.Single(summary.Alternatives));
        Assert.Equal("amp-insecure-url", Assert.Single(proxy.Logs.WithEvent(3100)).Field("Actions"));
    }

    [Fact]
    public async Task ValidAmpDocument_ProducesNoWarning()
    {
        await using var proxy = await ProxyTestHost.StartAsync();

        Assert.StartsWith("250", await SendAsync(proxy, TestMessages.Alternative("valid", TestMessages.Amp, TestMessages.Plain, TestMessages.Html)));

        Assert.Empty(proxy.Logs.WithEvent(3102));
    }
}
