using System.Text;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>Smaller edges: non-ASCII EHLO, a sender vanishing in DATA, a spill that fails, bare CR by option.</summary>
public sealed class HardeningEdgeTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "smtp-edge-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("EHLO bücher.example")]
    [InlineData("HELO bücher.example")]
    [InlineData("EHLO \u00ff")]
    public async Task Helo_NonAsciiName_Gets501_5_5_2_AndTheSessionStillNeedsAGreeting(string command)
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectAsync();
        Assert.StartsWith("501 5.5.2 ", await client.CommandAsync(command));
        Assert.StartsWith("503", await client.CommandAsync("MAIL FROM:<a@b.test>"));

        // The A-label form of the same name is what RFC 6531 3.7.1 asks for, and it is accepted.
        Assert.StartsWith("250", await client.CommandAsync("EHLO xn--bcher-kva.example"));
        Assert.Equal("xn--bcher-kva.example", host.Handlers.Sessions.Single().HeloName);
    }

    [Fact]
    public async Task Data_SenderDisconnectsMidMessage_LoggedAtInformationAsSenderVanished()
    {
        await using var host = await ServerTestHost.StartAsync();
        var client = await host.ConnectEhloAsync();
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@b.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<c@d.test>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        await client.SendAsync("Subject: cut short\r\n\r\nfirst line\r\n");
        await client.DisposeAsync();

        await ServerTestHost.WaitUntilAsync(() => host.Logs.Entries.Any(e => e.EventId == 1036), "the vanished sender is logged");
        var entry = host.Logs.Entries.Single(e => e.EventId == 1036);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.StartsWith("sender-vanished ", entry.Message);
        Assert.Contains("after 34 bytes", entry.Message);
        Assert.Empty(host.Handlers.Messages);
        await ServerTestHost.WaitUntilAsync(() => host.Handlers.Calls.Contains("RESET"), "the transaction is abandoned");
    }

    [Fact]
    public async Task Data_SpillFails_Answers452_4_3_1_LogsErrorCountsIt_AndTheSessionGoesOn()
    {
        Directory.CreateDirectory(_directory);
        var blocker = Path.Combine(_directory, "not-a-folder");
        File.WriteAllText(blocker, "x");
        var spill = new SpillFolder(Path.Combine(blocker, "spill"));
        await using var host = await ServerTestHost.StartAsync(o => o with { MemoryBufferBytes = 1024, Spill = spill });
        await using var client = await host.ConnectEhloAsync();

        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@b.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<c@d.test>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        await client.SendAsync("Subject: large\r\n\r\n" + string.Concat(Enumerable.Repeat(new string('x', 76) + "\r\n", 100)));
        Assert.Equal("452 4.3.1 Error: insufficient system storage", await client.CommandAsync("."));
        Assert.Equal(1, spill.WriteFailures);
        var logged = Assert.Single(host.Logs.Entries, e => e.EventId == 1037);
        Assert.Equal(LogLevel.Error, logged.Level);

        // A message that fits in memory still goes through on the same connection.
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@b.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<c@d.test>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        Assert.StartsWith("250", await client.CommandAsync("Subject: small\r\n\r\nfits\r\n."));
        Assert.Equal("Subject: small\r\n\r\nfits\r\n", Encoding.ASCII.GetString(Assert.Single(host.Handlers.Messages).Data));
    }

    [Fact]
    public async Task Start_SweepsSpillFilesLeftByAnEarlierProcess()
    {
        Directory.CreateDirectory(_directory);
        var stale = Path.Combine(_directory, $"smtp-{Guid.NewGuid():N}.msg");
        File.WriteAllText(stale, "Subject: left behind by kill -9\r\n\r\nbody\r\n");
        await using var host = await ServerTestHost.StartAsync(o => o with { TempDirectory = _directory });
        Assert.False(File.Exists(stale));
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1003 && e.Message.StartsWith("Removed 1 spill files", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Data_BareCrWithNormalizePolicy_RelayedWithCrlfInstead()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { BareCarriageReturn = BareCarriageReturnPolicy.Normalize });
        await using var client = await host.ConnectEhloAsync();
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@b.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<c@d.test>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));

        // "\r.\r" is the smuggling shape: normalized, it is a line holding a dot, never the end of the data.
        Assert.StartsWith("250", await client.CommandAsync("Subject: cr\r\n\r\nold mac line\rnext\r.\rMAIL FROM:<x@y.test>\r\n."));
        Assert.Equal("Subject: cr\r\n\r\nold mac line\r\nnext\r\n.\r\nMAIL FROM:<x@y.test>\r\n",
            Encoding.ASCII.GetString(Assert.Single(host.Handlers.Messages).Data));
    }

    [Fact]
    public async Task Data_BareCrByDefault_Refused554()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<a@b.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<c@d.test>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        Assert.StartsWith("554 5.5.2", await client.CommandAsync("Subject: cr\r\n\r\nold mac line\rnext\r\n."));
        Assert.Empty(host.Handlers.Messages);
    }
}
