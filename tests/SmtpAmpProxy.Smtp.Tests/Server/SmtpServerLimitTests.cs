using System.Net;
using System.Text;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

public sealed class SmtpServerLimitTests
{
    [Fact]
    public async Task Pipelining_SeveralCommandsInOneWrite_RepliesInOrder()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        await client.SendAsync("MAIL FROM:<s@b.test>\r\nRCPT TO:<a@b.test>\r\nRCPT TO:<>\r\nRCPT TO:<c@b.test>\r\nDATA\r\n");
        Assert.Equal("250 2.1.0 Ok", await client.ReadReplyAsync());
        Assert.Equal("250 2.1.5 Ok", await client.ReadReplyAsync());
        Assert.Equal("501 5.1.3 Bad recipient address syntax", await client.ReadReplyAsync());
        Assert.Equal("250 2.1.5 Ok", await client.ReadReplyAsync());
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", await client.ReadReplyAsync());
        await client.SendAsync("body\r\n.\r\nMAIL FROM:<t@b.test>\r\nRSET\r\nQUIT\r\n");
        Assert.Equal("250 2.0.0 Ok: queued as TEST", await client.ReadReplyAsync());
        Assert.Equal("250 2.1.0 Ok", await client.ReadReplyAsync());
        Assert.Equal("250 2.0.0 Ok", await client.ReadReplyAsync());
        Assert.Equal("221 2.0.0 Bye", await client.ReadReplyAsync());
        var message = Assert.Single(host.Handlers.Messages);
        Assert.Equal(["a@b.test", "c@b.test"], message.To);
        Assert.Equal("body\r\n", Encoding.ASCII.GetString(message.Data));
    }

    [Fact]
    public async Task Pipelining_CommandSplitAcrossWrites_IsReadWhole()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        await client.SendAsync("MAIL FR");
        await client.SendAsync("OM:<s@b.test>\r");
        await client.SendAsync("\nNO");
        Assert.Equal("250 2.1.0 Ok", await client.ReadReplyAsync());
        await client.SendAsync("OP\r\n");
        Assert.Equal("250 2.0.0 Ok", await client.ReadReplyAsync());
    }

    [Fact]
    public async Task Data_TwoMessagesOnOneSession_BothDelivered()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        for (var i = 0; i < 2; i++)
        {
            await client.SendAsync($"MAIL FROM:<s{i}@b.test>\r\nRCPT TO:<a@b.test>\r\nDATA\r\n");
            await client.ReadReplyAsync();
            await client.ReadReplyAsync();
            Assert.StartsWith("354", await client.ReadReplyAsync());
            Assert.StartsWith("250", await client.CommandAsync($"message {i}\r\n."));
        }

        Assert.Equal(["message 0\r\n", "message 1\r\n"], host.Handlers.Messages.Select(m => Encoding.ASCII.GetString(m.Data)));
    }

    public static TheoryData<string, string?> SmugglingCases => new()
    {
        // variant, expected content (null: refused with 554 bare CR)
        { "a\n.\nMAIL FROM:<evil@x.test>\n", "a\r\n.\r\nMAIL FROM:<evil@x.test>\r\n" },
        { "a\n.\r\nMAIL FROM:<evil@x.test>\r\n", "a\r\n.\r\nMAIL FROM:<evil@x.test>\r\n" },
        { "a\r\n.\nMAIL FROM:<evil@x.test>\r\n", "a\r\n.\r\nMAIL FROM:<evil@x.test>\r\n" },
        { "a\r\n\0.\r\nMAIL FROM:<evil@x.test>\r\n", "a\r\n\0.\r\nMAIL FROM:<evil@x.test>\r\n" },
        { "a\r.\rMAIL FROM:<evil@x.test>\r\n", null },
        { "a\r.\nMAIL FROM:<evil@x.test>\r\n", null },
        { "a\n.\rMAIL FROM:<evil@x.test>\r\n", null },
        { "a\r.\r\nMAIL FROM:<evil@x.test>\r\n", null },
        { "a\r\n.\rMAIL FROM:<evil@x.test>\r\n", null },
    };

    [Theory]
    [MemberData(nameof(SmugglingCases))]
    public async Task Data_SmugglingVariant_GivesOneMessageOrNone(string variant, string? expected)
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await OpenDataAsync(host);
        var reply = await client.CommandAsync(variant + "tail\r\n.");
        if (expected is null)
        {
            Assert.Equal("554 5.5.2 Error: bare <CR> received", reply);
            Assert.Empty(host.Handlers.Messages);
            Assert.Contains("RESET", host.Handlers.Calls);
        }
        else
        {
            Assert.Equal("250 2.0.0 Ok: queued as TEST", reply);
            var message = Assert.Single(host.Handlers.Messages);
            Assert.Equal(expected + "tail\r\n", Encoding.ASCII.GetString(message.Data));
        }

        // The smuggled MAIL was never a command: the session is between transactions, not inside a second one.
        Assert.Equal("503 5.5.1 Error: need MAIL command", await client.CommandAsync("RCPT TO:<x@b.test>"));
        Assert.DoesNotContain(host.Handlers.Calls, c => c.Contains("evil", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Data_BareLfWithRejectPolicy_Refuses554()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { BareLineFeed = BareLineFeedPolicy.Reject });
        await using var client = await OpenDataAsync(host);
        Assert.Equal("554 5.5.2 Error: bare <LF> received", await client.CommandAsync("a\nb\r\n."));
        Assert.Empty(host.Handlers.Messages);
    }

    [Fact]
    public async Task Data_OverMaxMessageBytes_Refuses552AfterReadingToEnd()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxMessageBytes = 1000 });
        await using var client = await OpenDataAsync(host);
        var line = new string('x', 98) + "\r\n";
        await client.SendAsync(string.Concat(Enumerable.Repeat(line, 50)));
        Assert.Equal("552 5.3.4 Message size exceeds fixed limit", await client.CommandAsync("."));
        Assert.Empty(host.Handlers.Messages);
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Data_ExactlyMaxMessageBytes_IsAccepted()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxMessageBytes = 1000 });
        await using var client = await OpenDataAsync(host);
        var line = new string('x', 98) + "\r\n";
        await client.SendAsync(string.Concat(Enumerable.Repeat(line, 10)));
        Assert.StartsWith("250", await client.CommandAsync("."));
        Assert.Equal(1000, Assert.Single(host.Handlers.Messages).Data.Length);
    }

    [Fact]
    public async Task Data_OverMemoryThreshold_SpillsAndArrivesIntact()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MemoryBufferBytes = 4096 });
        await using var client = await OpenDataAsync(host);
        var body = string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i:D6} ....\r\n"));
        Assert.StartsWith("250", await client.CommandAsync(body + "."));
        var message = Assert.Single(host.Handlers.Messages);
        Assert.True(message.WasSpilled);
        Assert.Equal(body, Encoding.ASCII.GetString(message.Data));
    }

    [Fact]
    public async Task Rcpt_OverMaxRecipients_Replies452()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxRecipients = 3 });
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("250 2.1.5 Ok", await client.CommandAsync($"RCPT TO:<r{i}@b.test>"));
        }

        Assert.Equal("452 4.5.3 Error: too many recipients", await client.CommandAsync("RCPT TO:<r3@b.test>"));
        Assert.Equal(3, host.Handlers.Calls.Count(c => c.StartsWith("RCPT", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task CommandLine_OverLimit_Replies500AndDiscardsRestOfLine()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxCommandLineBytes = 512 });
        await using var client = await host.ConnectEhloAsync();
        await client.SendAsync("NOOP " + new string('x', 600));
        Assert.Equal("500 5.5.2 Line too long", await client.ReadReplyAsync());
        // The tail of the long line (even one that looks like a command) is thrown away up to its LF.
        await client.SendAsync(new string('y', 3000) + " QUIT\r\nNOOP\r\n");
        Assert.Equal("250 2.0.0 Ok", await client.ReadReplyAsync());
    }

    [Fact]
    public async Task CommandLine_OverLimitInOneWrite_Replies500Once()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxCommandLineBytes = 512 });
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("500 5.5.2 Line too long", await client.CommandAsync("MAIL FROM:<" + new string('a', 1000) + "@b.test>"));
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
        Assert.Empty(host.Handlers.Calls);
    }

    [Fact]
    public async Task Errors_OverLimit_Replies421AndCloses()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxErrorsPerSession = 3 });
        await using var client = await host.ConnectEhloAsync();
        Assert.StartsWith("500", await client.CommandAsync("BAD1"));
        Assert.StartsWith("500", await client.CommandAsync("BAD2"));
        Assert.StartsWith("500", await client.CommandAsync("BAD3"));
        Assert.Equal("421 4.7.0 test.local Error: too many errors", await client.ReadReplyAsync());
        Assert.True(await client.WaitClosedAsync());
    }

    [Fact]
    public async Task Relay_FromAddressOutsideAllowedNetworks_Replies554()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { Access = o.Access with { AllowedNetworks = [IpNetwork.Parse("127.0.0.1/32")] } });
        await using var client = await host.ConnectEhloAsync(IPAddress.Parse("127.0.0.2"));
        Assert.Equal("250 2.1.0 Ok", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        Assert.Equal("554 5.7.1 <a@elsewhere.test>: Relay access denied", await client.CommandAsync("RCPT TO:<a@elsewhere.test>"));
        Assert.DoesNotContain(host.Handlers.Calls, c => c.StartsWith("RCPT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Relay_FromAllowedNetwork_IsPassedToHandler()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { Access = o.Access with { AllowedNetworks = [IpNetwork.Parse("127.0.0.1/32")] } });
        await using var client = await host.ConnectEhloAsync(IPAddress.Loopback);
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        Assert.Equal("250 2.1.5 Ok", await client.CommandAsync("RCPT TO:<a@elsewhere.test>"));
    }

    [Fact]
    public async Task Connections_OverTotalLimit_Get421AtGreeting()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxConnections = 2 });
        await using var first = await host.ConnectAsync();
        await using var second = await host.ConnectAsync();
        await using var third = await ServerTestClient.ConnectAsync(host.EndPoint);
        Assert.Equal("421 4.7.0 test.local Error: too many connections", await third.ReadReplyAsync());
        Assert.True(await third.WaitClosedAsync());
        Assert.Equal(2, host.Handlers.Sessions.Count);

        // A slot freed is a slot available again.
        Assert.Equal("221 2.0.0 Bye", await first.CommandAsync("QUIT"));
        await ServerTestHost.WaitUntilAsync(() => host.Server.ActiveSessions == 1, "the first session ends");
        await using var fourth = await host.ConnectAsync();
    }

    [Fact]
    public async Task Connections_OverPerIpLimit_Get421ButOtherAddressesStillServed()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxConnectionsPerIp = 1 });
        await using var first = await host.ConnectAsync(IPAddress.Loopback);
        await using var second = await ServerTestClient.ConnectAsync(host.EndPoint, IPAddress.Loopback);
        Assert.Equal("421 4.7.0 test.local Error: too many connections", await second.ReadReplyAsync());
        await using var other = await host.ConnectAsync(IPAddress.Parse("127.0.0.2"));
        Assert.Equal("250 2.0.0 Ok", await other.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task RequireTls_PlaintextMail_Replies530()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { RequireTls = true, Certificate = ServerTestCertificate.Instance });
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("530 5.7.0 Must issue a STARTTLS command first", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        Assert.Equal("530 5.7.0 Must issue a STARTTLS command first", await client.CommandAsync("AUTH PLAIN"));
        Assert.Empty(host.Handlers.Calls);
    }

    [Fact]
    public async Task RequireAuth_MailWithoutAuth_Replies530()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { Access = o.Access with { RequireAuth = true } });
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("530 5.7.0 Authentication required", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        Assert.Empty(host.Handlers.Calls);
    }

    private static async Task<ServerTestClient> OpenDataAsync(ServerTestHost host)
    {
        var client = await host.ConnectEhloAsync();
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<a@b.test>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        return client;
    }
}
