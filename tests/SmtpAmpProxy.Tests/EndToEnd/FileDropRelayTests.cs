using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.EndToEnd;

/// <summary>Sender → proxy → file-drop upstream, over real sockets on 127.0.0.1.</summary>
public sealed class FileDropRelayTests
{
    private const int MessageOutcome = 3100;

    [Fact]
    public async Task MisorderedAmp_ArrivesWithAmpBeforeHtml()
    {
        await using var proxy = await ProxyTestHost.StartAsync();
        var message = TestMessages.Alternative("misordered", TestMessages.Plain, TestMessages.Html, TestMessages.Amp);

        var (client, greeting) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("220", greeting);
            var reply = await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message));
            Assert.StartsWith("250", reply);
            Assert.Contains("queued as", reply);
        }

        var file = Assert.Single(proxy.OutboxFiles());
        var summary = PythonMime.Summarise(file);
        Assert.Equal([TestMessages.Plain, TestMessages.Amp, TestMessages.Html], Assert.Single(summary.Alternatives));
        Assert.Equal(PythonMime.Summarise(message).Leaves.OrderBy(l => l.Type), summary.Leaves.OrderBy(l => l.Type));

        var line = Assert.Single(proxy.Logs.WithEvent(MessageOutcome));
        Assert.Equal("repaired", line.Field("Outcome"));
        Assert.Equal("amp-after-html", line.Field("Actions"));
        Assert.Equal("<misordered@example.com>", line.Field("MessageId"));
        Assert.Equal("1", line.Field("Recipients"));
    }

    [Theory]
    [InlineData("compliant-amp", new[] { TestMessages.Amp, TestMessages.Plain, TestMessages.Html })]
    [InlineData("no-amp", new[] { TestMessages.Plain, TestMessages.Html })]
    public async Task CompliantMessage_ArrivesByteIdenticalAfterTheTraceField(string id, string[] order)
    {
        await using var proxy = await ProxyTestHost.StartAsync();
        var message = TestMessages.Alternative(id, order);

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message)));
        }

        var relayed = await File.ReadAllBytesAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        Assert.StartsWith("Received: from client.test ([127.0.0.1])", System.Text.Encoding.ASCII.GetString(relayed));
        Assert.Equal(message, TestMessages.WithoutPrependedTrace(relayed));
        Assert.Equal("relayed", Assert.Single(proxy.Logs.WithEvent(MessageOutcome)).Field("Outcome"));
    }

    [Fact]
    public async Task MisplacedAmp_IsRefusedWith554AndNothingArrives()
    {
        await using var proxy = await ProxyTestHost.StartAsync();

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            var reply = await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(TestMessages.MisplacedAmp("misplaced")));
            Assert.StartsWith("554 5.6.0 amp-misplaced", reply);

            // The session stays usable after a rejection.
            Assert.StartsWith("250", await client.CommandAsync("RSET"));
            Assert.StartsWith("250", await client.CommandAsync("NOOP"));
        }

        Assert.Empty(proxy.OutboxFiles());
        var line = Assert.Single(proxy.Logs.WithEvent(MessageOutcome));
        Assert.Equal("rejected", line.Field("Outcome"));
        Assert.Equal("amp-misplaced", line.Field("Code"));
        Assert.Equal("sender@example.com", line.Field("Sender"));
    }

    [Fact]
    public async Task ReceivedHeader_CanBeTurnedOff()
    {
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string> { ["Proxy:Smtp:AddReceivedHeader"] = "false" });
        var message = TestMessages.PlainText("no-trace");

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(message)));
        }

        Assert.Equal(message, await File.ReadAllBytesAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task TwoMessagesInOneSession_ArriveAsTwoFiles()
    {
        await using var proxy = await ProxyTestHost.StartAsync();

        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net"], TestMessages.DotStuff(TestMessages.PlainText("one"))));
            Assert.StartsWith("250", await client.SendMessageAsync("a@example.com", ["b@example.net", "c@example.net"], TestMessages.DotStuff(TestMessages.PlainText("two"))));
        }

        Assert.Equal(2, proxy.OutboxFiles().Length);
        Assert.Equal(["1", "2"], proxy.Logs.WithEvent(MessageOutcome).Select(l => l.Field("Recipients")));
    }
}
