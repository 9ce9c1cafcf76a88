using System.Security.Cryptography;
using System.Text;
using SmtpAmpProxy.Dkim;
using SmtpAmpProxy.Tests.Dkim;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.EndToEnd;

/// <summary>
/// A misordered AMP message signed by its sender leaves the proxy repaired, and with Resign it
/// carries a signature an independent verifier (dkimpy) accepts.
/// </summary>
public sealed class DkimRelayTests
{
    private static byte[] SenderSigned(RSA senderKey)
    {
        var message = TestMessages.Alternative("signed", TestMessages.Plain, TestMessages.Html, TestMessages.Amp);
        var signature = DkimSigner.Sign([message], new DkimKey("example.com", "sender", senderKey), DateTimeOffset.UtcNow);
        return [.. signature, .. message];
    }

    private static async Task<byte[]> RelayAsync(ProxyTestHost proxy, byte[] message)
    {
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message)));
        }

        return await File.ReadAllBytesAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Resign_RepairedMessage_VerifiesWithTheProxysKeyAndDropsTheSendersSignature()
    {
        DkimTestSupport.RequireDkimpy();
        using var keys = new TempDirectory();
        using var senderKey = RSA.Create(2048);
        using var proxyKey = RSA.Create(2048);
        var keyPath = DkimTestSupport.WritePem(keys, "proxy.pem", proxyKey, pkcs8: true);
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Dkim:OnRepair"] = "Resign",
            ["Proxy:Dkim:Keys:0:Domain"] = "example.com",
            ["Proxy:Dkim:Keys:0:Selector"] = "proxy",
            ["Proxy:Dkim:Keys:0:PrivateKeyPath"] = keyPath,
        });
        var sent = SenderSigned(senderKey);

        // Before: the sender's signature verifies; a repair would break it.
        Assert.True(DkimTestSupport.Verify(keys, sent, senderKey, "example.com", "sender").Pass);

        var relayed = await RelayAsync(proxy, sent);

        Assert.Equal([TestMessages.Plain, TestMessages.Amp, TestMessages.Html], Assert.Single(PythonMime.Summarise(relayed).Alternatives));
        var text = Encoding.UTF8.GetString(relayed);
        Assert.Equal(1, CountOccurrences(text, "DKIM-Signature:"));
        var (pass, log) = DkimTestSupport.Verify(keys, relayed, proxyKey, "example.com", "proxy");
        Assert.True(pass, log);
        Assert.Contains(proxy.Logs.WithEvent(3103), l => l.Field("DkimOutcome") == "resigned");
    }

    [Fact]
    public async Task Keep_RepairedMessage_KeepsTheBrokenSignatureAndLogsIt()
    {
        DkimTestSupport.RequireDkimpy();
        using var keys = new TempDirectory();
        using var senderKey = RSA.Create(2048);
        await using var proxy = await ProxyTestHost.StartAsync();

        var relayed = await RelayAsync(proxy, SenderSigned(senderKey));

        Assert.Equal(1, CountOccurrences(Encoding.UTF8.GetString(relayed), "DKIM-Signature:"));
        Assert.False(DkimTestSupport.Verify(keys, relayed, senderKey, "example.com", "sender").Pass);
        Assert.Contains(proxy.Logs.WithEvent(3103), l => l.Field("DkimOutcome") == "kept");
    }

    [Fact]
    public async Task Remove_RepairedMessage_CarriesNoSignature()
    {
        using var senderKey = RSA.Create(2048);
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Dkim:OnRepair"] = "Remove" });

        var relayed = await RelayAsync(proxy, SenderSigned(senderKey));

        Assert.DoesNotContain("DKIM-Signature:", Encoding.UTF8.GetString(relayed));
        Assert.Equal([TestMessages.Plain, TestMessages.Amp, TestMessages.Html], Assert.Single(PythonMime.Summarise(relayed).Alternatives));
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.OrdinalIgnoreCase); at >= 0; at = text.IndexOf(value, at + 1, StringComparison.OrdinalIgnoreCase))
        {
            count++;
        }

        return count;
    }
}
