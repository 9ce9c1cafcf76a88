using System.Text;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>DATA-phase abuse: a trickling sender (slowloris) and an oversized header block.</summary>
public sealed class HardeningDataLimitTests
{
    private const string Timeout = "421 4.4.2 test.local Error: timeout exceeded";
    private const string HeaderTooLarge = "552 5.3.4 Message header size exceeds limit";

    private static SmtpServerOptions SlowDataGuard(SmtpServerOptions o) => o with
    {
        CommandTimeout = TimeSpan.FromHours(1),
        DataTimeout = TimeSpan.FromMinutes(10),
        MinDataRateBytesPerSecond = 100,
        MinDataRateGracePeriod = TimeSpan.FromSeconds(10),
    };

    private static async Task<ServerTestClient> OpenDataAsync(ServerTestHost host)
    {
        var client = await host.ConnectEhloAsync();
        Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<a@b.test>"));
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        return client;
    }

    [Fact]
    public async Task DataRate_TrickleFarInsideDataTimeout_Gets421TimeoutAndNothingIsDelivered()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(SlowDataGuard, time);
        await using var client = await OpenDataAsync(host);
        var reply = client.ReadReplyAsync();
        var advanced = TimeSpan.Zero;

        // 10 bytes every 2 s is 5 bytes/s: each gap is a tiny fraction of the 10-minute DataTimeout.
        while (!reply.IsCompleted && advanced < TimeSpan.FromMinutes(1))
        {
            var armed = time.Armings;
            try
            {
                await client.SendAsync("trickle-10");
            }
            catch (IOException)
            {
                break;
            }

            await HardeningTime.WaitUntilAsync(() => time.Armings > armed || reply.IsCompleted, "the session waits for more data");
            time.Advance(TimeSpan.FromSeconds(2));
            advanced += TimeSpan.FromSeconds(2);
        }

        Assert.Equal(Timeout, await reply);
        Assert.InRange(advanced, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(14));
        Assert.True(await client.WaitClosedAsync());
        Assert.Empty(host.Handlers.Messages);
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1035);
        await ServerTestHost.WaitUntilAsync(() => host.Handlers.Calls.Contains("RESET"), "the transaction is abandoned");
    }

    [Fact]
    public async Task DataRate_SilentAfterGracePeriod_Gets421WithoutWaitingForDataTimeout()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(SlowDataGuard, time);
        await using var client = await OpenDataAsync(host);
        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(TimeSpan.FromSeconds(10)) == 1, "the data wait is bounded by the grace period");
        var armed = time.Armings;
        await client.SendAsync("Subject: x\r\n\r\n");
        await HardeningTime.WaitUntilAsync(() => time.Armings > armed, "the session took the bytes and waits again");
        Assert.Equal(1, time.ArmedFor(TimeSpan.FromSeconds(10)));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(Timeout, await client.ReadReplyAsync());
        Assert.True(await client.WaitClosedAsync());
    }

    [Fact]
    public async Task DataRate_SenderAboveMinimum_IsNeverCut()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(SlowDataGuard, time);
        await using var client = await OpenDataAsync(host);
        var line = new string('x', 998) + "\r\n";

        // 1,000 bytes every 2 s is 500 bytes/s against a minimum of 100, for four times the grace period.
        for (var i = 0; i < 20; i++)
        {
            var armed = time.Armings;
            await client.SendAsync(line);
            await HardeningTime.WaitUntilAsync(() => time.Armings > armed, "the session took the line and waits again");
            time.Advance(TimeSpan.FromSeconds(2));
        }

        Assert.Equal("250 2.0.0 Ok: queued as TEST", await client.CommandAsync("."));
        Assert.Equal(20 * 1000, Assert.Single(host.Handlers.Messages).Data.Length);
    }

    [Fact]
    public async Task DataRate_Zero_TurnsTheCheckOff()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(o => SlowDataGuard(o) with { MinDataRateBytesPerSecond = 0 }, time);
        await using var client = await OpenDataAsync(host);
        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(TimeSpan.FromMinutes(10)) == 1, "only the DataTimeout bounds the wait");
        time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("250 2.0.0 Ok: queued as TEST", await client.CommandAsync("late but legal\r\n."));
    }

    [Fact]
    public async Task Header_OverMaxHeaderBytes_Refuses552AndSessionGoesOn()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxHeaderBytes = 200 });
        await using var client = await OpenDataAsync(host);
        var header = string.Concat(Enumerable.Range(0, 10).Select(i => $"X-Filler-{i}: {new string('h', 20)}\r\n"));
        Assert.Equal(HeaderTooLarge, await client.CommandAsync(header + "\r\nbody\r\n."));
        Assert.Empty(host.Handlers.Messages);
        Assert.Contains("RESET", host.Handlers.Calls);
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Header_SmallHeaderLargeBody_IsAccepted()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxHeaderBytes = 200 });
        await using var client = await OpenDataAsync(host);
        var body = string.Concat(Enumerable.Repeat(new string('b', 98) + "\r\n", 100));
        Assert.StartsWith("250", await client.CommandAsync("Subject: small\r\n\r\n" + body + "."));
        Assert.Equal(16 + 2 + 10_000, Assert.Single(host.Handlers.Messages).Data.Length);
    }

    [Fact]
    public async Task Header_WithoutEmptyLine_CountsTheWholeMessage()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with { MaxHeaderBytes = 200 });
        await using var client = await OpenDataAsync(host);
        var lines = string.Concat(Enumerable.Repeat("X-Only-Headers: " + new string('h', 30) + "\r\n", 10));
        Assert.Equal(HeaderTooLarge, await client.CommandAsync(lines + "."));
    }

    [Theory]
    [InlineData(200, false)]
    [InlineData(199, true)]
    public void Reader_HeaderExactlyAtLimit_IsAcceptedOneMoreIsNot(int limit, bool overflowed)
    {
        // 10 lines of 20 bytes = 200 header bytes; the empty line and body do not count.
        var header = string.Concat(Enumerable.Repeat($"X-Line: {new string('h', 10)}\r\n", 10));
        Assert.Equal(200, header.Length);
        var input = Encoding.ASCII.GetBytes(header + "\r\n" + new string('b', 500) + "\r\n.\r\n");
        using var buffer = new MessageBuffer(4096);
        var reader = new SmtpDataReader(buffer, 1 << 20, BareLineFeedPolicy.Normalize, limit);
        Assert.True(reader.Process(input, out _));
        Assert.Equal(overflowed, reader.HeaderOverflowed);
    }

    [Theory]
    [InlineData("A: 1\r\nB: 2\r\n\r\n", 12, false)]
    [InlineData("A: 1\r\nB: 2\r\n\r\n", 11, true)]
    [InlineData("A: 1\nB: 2\n\n", 12, false)]
    [InlineData("A: 1\nB: 2\n\n", 11, true)]
    [InlineData("\r\nA: body line that is long but after the header\r\n", 1, false)]
    public void Reader_HeaderSplitAtEveryByte_CountsTheSame(string message, int limit, bool overflowed)
    {
        var input = Encoding.ASCII.GetBytes(message + "tail\r\n.\r\n");
        using var buffer = new MessageBuffer(4096);
        var reader = new SmtpDataReader(buffer, 1 << 20, BareLineFeedPolicy.Normalize, limit);
        var ended = false;
        for (var i = 0; i < input.Length && !ended; i++)
        {
            ended = reader.Process(input.AsSpan(i, 1), out _);
        }

        Assert.True(ended);
        Assert.Equal(overflowed, reader.HeaderOverflowed);
    }
}
