using System.Text;
using System.Text.Json;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Webhook;

/// <summary>
/// X-SMTPAPI tagging through the whole proxy (Proxy:Webhook:TagMessages), the relayed message
/// read back by Python's email and json packages.
/// </summary>
public sealed class SmtpApiTagRelayTests
{
    private static async Task<(ProxyTestHost Proxy, byte[] Relayed)> RelayAsync(byte[] message, bool tag = true)
    {
        var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Webhook:TagMessages"] = tag ? "true" : "false" });
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message)));
        }

        return (proxy, await File.ReadAllBytesAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken));
    }

    /// <summary>Each X-SMTPAPI field as Python's json reads it (null: it could not).</summary>
    private static List<JsonElement?> PythonFields(byte[] relayed)
    {
        var python = Peers.RequirePython();
        using var directory = new TempDirectory();
        var path = directory.File("relayed.eml");
        File.WriteAllBytes(path, relayed);
        var result = Peers.Run(python, [RepoPaths.Peer("smtpapi_header.py"), path], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.StdErr);
        using var json = JsonDocument.Parse(result.StdOut);
        return [.. json.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.ValueKind == JsonValueKind.Null ? (JsonElement?)null : f.Clone())];
    }

    private static byte[] WithoutPrependedFields(byte[] relayed)
    {
        var rest = TestMessages.WithoutPrependedTrace(relayed);
        var text = Encoding.UTF8.GetString(rest);
        Assert.StartsWith("X-SMTPAPI: ", text);
        return rest[(Array.IndexOf(rest, (byte)'\n') + 1)..];
    }

    private static byte[] WithField(string field, byte[] message) => [.. Encoding.UTF8.GetBytes(field), .. message];

    [Fact]
    public async Task Absent_PassedMessageGainsAPrependedFieldAndIsOtherwiseByteIdentical()
    {
        var sent = TestMessages.PlainText("absent");

        var (proxy, relayed) = await RelayAsync(sent);
        await using var _ = proxy;

        var field = Assert.Single(PythonFields(relayed));
        Assert.Equal("passed", field!.Value.GetProperty("unique_args").GetProperty("smtp_amp_proxy").GetString());
        Assert.Equal(sent, WithoutPrependedFields(relayed));
    }

    [Fact]
    public async Task Present_RepairedMessageKeepsTheSendersSettingsAndCarriesTheOutcome()
    {
        // Misordered AMP, with the sender's own X-SMTPAPI {"category": ["amp"]}.
        var sent = TestMessages.Alternative("present", TestMessages.Plain, TestMessages.Html, TestMessages.Amp);
        Assert.Contains("X-SMTPAPI: {\"category\": [\"amp\"]}", Encoding.UTF8.GetString(sent));

        var (proxy, relayed) = await RelayAsync(sent);
        await using var _ = proxy;

        var field = Assert.Single(PythonFields(relayed))!.Value;
        Assert.Equal("amp", Assert.Single(field.GetProperty("category").EnumerateArray()).GetString());
        Assert.Equal("repaired", field.GetProperty("unique_args").GetProperty("smtp_amp_proxy").GetString());
        Assert.Equal([TestMessages.Plain, TestMessages.Amp, TestMessages.Html], Assert.Single(PythonMime.Summarise(relayed).Alternatives));
    }

    [Fact]
    public async Task PresentWithArguments_SendersArgumentsAndFoldingSurvive()
    {
        var sent = WithField("X-SMTPAPI: {\"unique_args\": {\"customer\": \"42\",\r\n \"campaign\": \"spring\"},\r\n \"category\": \"news\"}\r\n",
            TestMessages.PlainText("arguments"));

        var (proxy, relayed) = await RelayAsync(sent);
        await using var _ = proxy;

        var args = Assert.Single(PythonFields(relayed))!.Value.GetProperty("unique_args");
        Assert.Equal("42", args.GetProperty("customer").GetString());
        Assert.Equal("spring", args.GetProperty("campaign").GetString());
        Assert.Equal("passed", args.GetProperty("smtp_amp_proxy").GetString());
        Assert.Equal(TestMessages.PlainText("arguments"), TestMessages.WithoutPrependedTrace(relayed)[(Encoding.UTF8.GetString(TestMessages.WithoutPrependedTrace(relayed)).IndexOf("From:", StringComparison.Ordinal))..]);
    }

    [Fact]
    public async Task Unparsable_IsLeftByteIdenticalAndLogged()
    {
        var sent = WithField("X-SMTPAPI: {\"category\": [\"amp\"\r\n", TestMessages.PlainText("unparsable"));

        var (proxy, relayed) = await RelayAsync(sent);
        await using var _ = proxy;

        Assert.Equal(sent, TestMessages.WithoutPrependedTrace(relayed));
        Assert.Null(Assert.Single(PythonFields(relayed)));
        Assert.Contains(proxy.Logs.WithEvent(3310), l => l.Field("Reason") == "unparsable");
    }

    [Fact]
    public async Task DkimCovered_IsLeftByteIdenticalAndLogged()
    {
        var sent = WithField(
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1;\r\n\th=from:to:subject:x-smtpapi; bh=AAAA; b=AAAA\r\n",
            TestMessages.PlainText("dkim"));

        var (proxy, relayed) = await RelayAsync(sent);
        await using var _ = proxy;

        Assert.Equal(sent, TestMessages.WithoutPrependedTrace(relayed));
        Assert.Empty(PythonFields(relayed));
        Assert.Contains(proxy.Logs.WithEvent(3310), l => l.Field("Reason") == "dkim-covered");
    }

    [Fact]
    public async Task TaggingOff_LeavesEveryMessageAsItWas()
    {
        var sent = TestMessages.Alternative("off", TestMessages.Amp, TestMessages.Plain, TestMessages.Html);

        var (proxy, relayed) = await RelayAsync(sent, tag: false);
        await using var _ = proxy;

        Assert.Equal(sent, TestMessages.WithoutPrependedTrace(relayed));
    }
}
