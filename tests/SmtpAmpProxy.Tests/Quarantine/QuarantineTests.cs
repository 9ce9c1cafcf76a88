using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Quarantine;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Quarantine;

/// <summary>Rejected messages kept as .eml with a .json of the reason, in a bounded folder.</summary>
public sealed class QuarantineTests
{
    private const int Quarantined = 3150;
    private const int QuarantineFailed = 3151;

    [Fact]
    public async Task RejectedMessage_KeptAsEmlAndJsonWithTheCode()
    {
        using var folder = new TempDirectory();
        await using var proxy = await StartAsync(folder.Path);
        var message = TestMessages.MisplacedAmp("kept");

        var reply = await SendAsync(proxy, message);

        Assert.StartsWith("554 5.6.0 amp-misplaced", reply);
        var eml = Assert.Single(Directory.GetFiles(folder.Path, "*.eml"));
        Assert.Equal(message, await File.ReadAllBytesAsync(eml, TestContext.Current.CancellationToken));
        var id = Path.GetFileNameWithoutExtension(eml);
        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(folder.Path, id + ".json"), TestContext.Current.CancellationToken));
        var root = json.RootElement;
        Assert.Equal(id, root.GetProperty("id").GetString());
        Assert.Equal("amp-misplaced", root.GetProperty("code").GetString());
        Assert.StartsWith("554 5.6.0 amp-misplaced:", root.GetProperty("reply").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("reason").GetString()));
        Assert.Equal("<kept@example.com>", root.GetProperty("messageId").GetString());
        Assert.Equal("sender@example.com", root.GetProperty("sender").GetString());
        Assert.Equal(["rcpt@example.net"], root.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("127.0.0.1", root.GetProperty("client").GetString());
        Assert.Equal(message.Length, root.GetProperty("size").GetInt64());
        Assert.True(root.GetProperty("sessionId").GetInt64() > 0);
        Assert.True(root.GetProperty("time").GetDateTimeOffset() > DateTimeOffset.UnixEpoch);
        Assert.Empty(Directory.GetFiles(folder.Path, ".*"));

        var line = Assert.Single(proxy.Logs.WithEvent(Quarantined));
        Assert.Equal(id, line.Field("QuarantineId"));
        Assert.Equal("amp-misplaced", line.Field("Code"));
        Assert.Equal(Assert.Single(proxy.Logs.WithEvent(3100)).Field("SessionId"), line.Field("SessionId"));
    }

    [Fact]
    public async Task AcceptedMessages_NeverQuarantined()
    {
        using var folder = new TempDirectory();
        await using var proxy = await StartAsync(folder.Path);

        Assert.StartsWith("250", await SendAsync(proxy, TestMessages.PlainText("plain")));
        Assert.StartsWith("250", await SendAsync(proxy, TestMessages.Alternative("repaired", TestMessages.Plain, TestMessages.Html, TestMessages.Amp)));

        Assert.Equal(2, proxy.OutboxFiles().Length);
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
        Assert.Empty(proxy.Logs.WithEvent(Quarantined));
    }

    [Fact]
    public async Task UnwritableFolder_ReplyStill554AndWarningLogged()
    {
        using var folder = new TempDirectory();
        var quarantine = Path.Combine(folder.Path, "quarantine");
        await using var proxy = await StartAsync(quarantine);

        // The folder became a file after the start check: every write under it fails, even for root.
        Directory.Delete(quarantine);
        await File.WriteAllTextAsync(quarantine, "not a folder", TestContext.Current.CancellationToken);

        var reply = await SendAsync(proxy, TestMessages.MisplacedAmp("unwritable"));

        Assert.StartsWith("554 5.6.0 amp-misplaced", reply);
        var warning = Assert.Single(proxy.Logs.WithEvent(QuarantineFailed));
        Assert.Equal("<unwritable@example.com>", warning.Field("MessageId"));
        Assert.Empty(proxy.Logs.WithEvent(Quarantined));
    }

    [Fact]
    public async Task SizeBound_RemovesOldestPairsFirst()
    {
        using var folder = new TempDirectory();
        var body = new byte[10_000];
        var quarantine = new MessageQuarantine(folder.Path, maxTotalBytes: 25_000);
        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add((await quarantine.KeepAsync(body, Record(i), now.AddSeconds(i), NullLogger.Instance))!);
        }

        var left = Directory.GetFiles(folder.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal);

        Assert.Equal([ids[2] + ".eml", ids[2] + ".json", ids[3] + ".eml", ids[3] + ".json"], left);
        Assert.True(Directory.GetFiles(folder.Path).Sum(f => new FileInfo(f).Length) <= 25_000);
    }

    [Fact]
    public async Task SizeBound_IdsSortByTimeEvenWithinOneMillisecond()
    {
        using var folder = new TempDirectory();
        var quarantine = new MessageQuarantine(folder.Path, maxTotalBytes: long.MaxValue);
        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await quarantine.KeepAsync("x\r\n"u8.ToArray(), Record(i), now, NullLogger.Instance))!);
        }

        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Validate_DirectoryThatCannotBeCreated_NamesTheKey()
    {
        using var folder = new TempDirectory();
        var file = folder.File("a-file");
        File.WriteAllText(file, "");
        var options = new ProxyOptions
        {
            Upstream = new UpstreamOptions { Mode = UpstreamMode.Directory },
            Quarantine = new QuarantineOptions { Directory = Path.Combine(file, "quarantine") },
        };

        var error = Assert.Single(ProxyOptionsValidator.Validate(options, folder.Path));

        Assert.StartsWith("Proxy:Quarantine:Directory:", error);
    }

    [Fact]
    public void Validate_RelativeDirectory_CreatedUnderContentRoot()
    {
        using var folder = new TempDirectory();
        var options = new ProxyOptions
        {
            Upstream = new UpstreamOptions { Mode = UpstreamMode.Directory },
            Quarantine = new QuarantineOptions { Directory = "quarantine", MaxTotalBytes = 1000 },
        };

        Assert.Empty(ProxyOptionsValidator.Validate(options, folder.Path));
        Assert.True(Directory.Exists(folder.File("quarantine")));
    }

    private static QuarantineRecord Record(int i) =>
        new(i + 1, "192.0.2.1", "s@example.com", ["r@example.net"], $"<m{i}@example.com>", "amp-misplaced", "why", new SmtpReply(554, "5.6.0", "amp-misplaced: why"));

    private static Task<ProxyTestHost> StartAsync(string directory) => ProxyTestHost.StartAsync(new Dictionary<string, string>
    {
        ["Proxy:Quarantine:Directory"] = directory,
    });

    private static async Task<string> SendAsync(ProxyTestHost proxy, byte[] message)
    {
        var (client, greeting) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            Assert.StartsWith("220", greeting);
            return await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message));
        }
    }
}
