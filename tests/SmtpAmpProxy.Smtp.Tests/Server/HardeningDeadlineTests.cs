using System.Text;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>
/// Total deadlines, not per-byte ones: a whole command line, the greeting-to-EHLO phase and an AUTH exchange each
/// end at a fixed point however the client trickles its bytes. Before, every byte restarted the command timeout,
/// so one byte every few minutes held a session for days.
/// </summary>
public sealed class HardeningDeadlineTests
{
    private const string Timeout = "421 4.4.2 test.local Error: timeout exceeded";

    [Fact]
    public async Task CommandLine_OneByteEvery100Seconds_Gets421FiveMinutesAfterTheWaitBegan()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(o => o with { CommandTimeout = TimeSpan.FromMinutes(5) }, time);
        await using var client = await host.ConnectEhloAsync();
        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(TimeSpan.FromMinutes(5)) == 1, "the session waits for a command");
        var reply = client.ReadReplyAsync();

        // N, O, O: each byte arrives 1:40 after the one before, far inside the command timeout, but the line
        // never completes. The third 1:40 reaches five minutes since the wait began.
        foreach (var b in "NOO")
        {
            Assert.False(reply.IsCompleted);
            var armed = time.Armings;
            await client.SendAsync(b.ToString());
            await HardeningTime.WaitUntilAsync(() => time.Armings > armed, "the session read the byte and waits again");
            time.Advance(TimeSpan.FromSeconds(100));
        }

        Assert.Equal(Timeout, await reply);
        Assert.True(await client.WaitClosedAsync());
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1031);
    }

    [Fact]
    public async Task CommandLine_CompletedInsideTheDeadline_NextCommandGetsAFreshDeadline()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(o => o with { CommandTimeout = TimeSpan.FromMinutes(5) }, time);
        await using var client = await host.ConnectEhloAsync();
        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(TimeSpan.FromMinutes(5)) == 1, "the session waits for a command");

        var armed = time.Armings;
        await client.SendAsync("NO");
        await HardeningTime.WaitUntilAsync(() => time.Armings > armed, "the session read the bytes");
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("OP"));

        // Four minutes went on the NOOP; the next command still has its own five.
        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(TimeSpan.FromMinutes(5)) == 1, "the session waits for the next command");
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task GreetingToEhlo_NoopsEveryMinute_Gets421WhenThePhaseDeadlinePasses()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(
            o => o with { CommandTimeout = TimeSpan.FromMinutes(5), HeloTimeout = TimeSpan.FromMinutes(2) }, time);
        await using var client = await host.ConnectAsync();

        // Each command is answered at once, so no single wait comes near the command timeout.
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));

        var reply = client.ReadReplyAsync();
        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(TimeSpan.FromSeconds(1)) == 1, "the wait ends with the phase");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(Timeout, await reply);
        Assert.True(await client.WaitClosedAsync());
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1038 && e.Message.Contains("greeting-to-EHLO", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GreetingToEhlo_EhloInTime_LaterCommandsAreNotBoundByThePhase()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(
            o => o with { CommandTimeout = TimeSpan.FromMinutes(5), HeloTimeout = TimeSpan.FromMinutes(2) }, time);
        await using var client = await host.ConnectAsync();
        time.Advance(TimeSpan.FromSeconds(90));
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));

        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(TimeSpan.FromMinutes(5)) == 1, "the session waits a full command timeout");
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task AuthExchange_EachAnswerJustInsideTheCommandTimeout_Gets421AtTheAuthDeadline()
    {
        var time = new HardeningTime();
        await using var host = await ServerTestHost.StartAsync(o => o with
        {
            Authenticator = new ServerTestAuthenticator("alice", "s3cret"),
            AllowAuthWithoutTls = true,
            CommandTimeout = TimeSpan.FromMinutes(5),
            AuthTimeout = TimeSpan.FromMinutes(1),
        }, time);
        await using var client = await host.ConnectEhloAsync();

        Assert.Equal("334 VXNlcm5hbWU6", await client.CommandAsync("AUTH LOGIN"));
        time.Advance(TimeSpan.FromSeconds(50));
        Assert.Equal("334 UGFzc3dvcmQ6", await client.CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes("alice"))));

        var reply = client.ReadReplyAsync();
        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(TimeSpan.FromSeconds(10)) == 1, "the password wait ends with the exchange");
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(Timeout, await reply);
        Assert.True(await client.WaitClosedAsync());
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1038 && e.Message.Contains("AUTH", StringComparison.Ordinal));
    }
}
