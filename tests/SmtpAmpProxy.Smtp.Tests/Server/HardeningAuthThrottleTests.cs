using System.Net;
using System.Text;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>Password guessing: AUTH failures per client address are slowed down, then cut off, across sessions.</summary>
public sealed class HardeningAuthThrottleTests
{
    private const string Failed = "535 5.7.8 Error: authentication failed";
    private const string LockedOut = "421 4.7.0 test.local Error: too many authentication failures";

    // Distinct from every delay, so a pending command wait is never mistaken for the AUTH delay.
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromHours(1);

    private static SmtpServerOptions Throttled(SmtpServerOptions o, ServerTestAuthenticator authenticator) => o with
    {
        Authenticator = authenticator,
        AllowAuthWithoutTls = true,
        CommandTimeout = CommandTimeout,
        AuthFailuresBeforeDelay = 1,
        AuthFailureDelay = TimeSpan.FromSeconds(1),
        MaxAuthFailures = 4,
        AuthFailureWindow = TimeSpan.FromMinutes(15),
    };

    private static string Plain(string user, string password) =>
        "AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));

    [Fact]
    public async Task AuthFailures_PastThreshold_DelayDoublesThenSessionGets421AndCloses()
    {
        var time = new HardeningTime();
        var authenticator = new ServerTestAuthenticator("alice", "s3cret");
        await using var host = await ServerTestHost.StartAsync(o => Throttled(o, authenticator), time);
        await using var client = await host.ConnectEhloAsync();

        Assert.Equal(Failed, await client.CommandAsync(Plain("alice", "guess-1")));

        await AssertDelayedFailureAsync(client, time, Plain("alice", "guess-2"), TimeSpan.FromSeconds(1));
        await AssertDelayedFailureAsync(client, time, Plain("alice", "guess-3"), TimeSpan.FromSeconds(2));

        Assert.Equal(LockedOut, await client.CommandAsync(Plain("alice", "guess-4")));
        Assert.True(await client.WaitClosedAsync());
        Assert.Equal(4, authenticator.Attempts.Count);
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1042);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains("guess-", StringComparison.Ordinal)
            || e.Message.Contains(Plain("alice", "guess-4")[11..], StringComparison.Ordinal));
    }

    [Fact]
    public async Task LockedOutAddress_NewSessionEvenWithRightPassword_Gets421UntilWindowPasses()
    {
        var time = new HardeningTime();
        var authenticator = new ServerTestAuthenticator("alice", "s3cret");
        await using var host = await ServerTestHost.StartAsync(
            o => Throttled(o, authenticator) with { AuthFailuresBeforeDelay = 10, MaxAuthFailures = 3 }, time);

        // Reconnecting does not reset the count: it is kept per address, across sessions.
        for (var i = 0; i < 2; i++)
        {
            await using var guesser = await host.ConnectEhloAsync();
            Assert.Equal(Failed, await guesser.CommandAsync(Plain("alice", "wrong")));
        }

        await using (var third = await host.ConnectEhloAsync())
        {
            Assert.Equal(LockedOut, await third.CommandAsync(Plain("alice", "wrong")));
            Assert.True(await third.WaitClosedAsync());
        }

        await using (var locked = await host.ConnectEhloAsync())
        {
            Assert.Equal(LockedOut, await locked.CommandAsync(Plain("alice", "s3cret")));
            Assert.True(await locked.WaitClosedAsync());
        }

        Assert.Equal(3, authenticator.Attempts.Count);

        // Another address is not punished for this one.
        await using (var other = await host.ConnectEhloAsync(IPAddress.Parse("127.0.0.2")))
        {
            Assert.Equal("235 2.7.0 Authentication successful", await other.CommandAsync(Plain("alice", "s3cret")));
        }

        time.Advance(TimeSpan.FromMinutes(15));
        await using var later = await host.ConnectEhloAsync();
        Assert.Equal("235 2.7.0 Authentication successful", await later.CommandAsync(Plain("alice", "s3cret")));
    }

    [Fact]
    public async Task AuthFailures_FiveMadeUpUsersFromOneAddress_CorrectLoginFromThatAddressSucceeds()
    {
        // Today's attack: five failed logins with made-up names locked every user out of the address (a NAT).
        var time = new HardeningTime();
        var authenticator = new ServerTestAuthenticator("alice", "s3cret");
        await using var host = await ServerTestHost.StartAsync(
            o => Throttled(o, authenticator) with { AuthFailuresBeforeDelay = 10, MaxAuthFailures = 5, MaxAuthFailuresPerAddress = 30 }, time);

        for (var i = 0; i < 5; i++)
        {
            await using var guesser = await host.ConnectEhloAsync();
            Assert.Equal(Failed, await guesser.CommandAsync(Plain($"made-up-{i}", "wrong")));
        }

        await using var colleague = await host.ConnectEhloAsync();
        Assert.Equal("235 2.7.0 Authentication successful", await colleague.CommandAsync(Plain("alice", "s3cret")));
    }

    [Fact]
    public async Task AuthFailures_OneUserAtItsLimit_LocksThatUserOnly_OthersFromTheAddressStillLogIn()
    {
        var time = new HardeningTime();
        var authenticator = new ServerTestAuthenticator("alice", "s3cret");
        await using var host = await ServerTestHost.StartAsync(
            o => Throttled(o, authenticator) with { AuthFailuresBeforeDelay = 10, MaxAuthFailures = 3, MaxAuthFailuresPerAddress = 30 }, time);

        await using (var guesser = await host.ConnectEhloAsync())
        {
            Assert.Equal(Failed, await guesser.CommandAsync(Plain("bob", "guess-1")));
            Assert.Equal(Failed, await guesser.CommandAsync(Plain("bob", "guess-2")));
            Assert.Equal(LockedOut, await guesser.CommandAsync(Plain("bob", "guess-3")));
            Assert.True(await guesser.WaitClosedAsync());
        }

        // bob from here is refused before any password check; alice from the same address is not.
        var attempts = authenticator.Attempts.Count;
        await using (var again = await host.ConnectEhloAsync())
        {
            Assert.Equal(LockedOut, await again.CommandAsync(Plain("bob", "guess-4")));
            Assert.True(await again.WaitClosedAsync());
        }

        Assert.Equal(attempts, authenticator.Attempts.Count);
        await using var alice = await host.ConnectEhloAsync();
        Assert.Equal("235 2.7.0 Authentication successful", await alice.CommandAsync(Plain("alice", "s3cret")));
    }

    [Fact]
    public async Task AuthFailures_RotatingUserNames_HitTheAddressCeiling_ThenEveryAuthFromThereGets421()
    {
        var time = new HardeningTime();
        var authenticator = new ServerTestAuthenticator("alice", "s3cret");
        await using var host = await ServerTestHost.StartAsync(
            o => Throttled(o, authenticator) with { AuthFailuresBeforeDelay = 10, MaxAuthFailures = 3, MaxAuthFailuresPerAddress = 6 }, time);

        await using (var guesser = await host.ConnectEhloAsync())
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(Failed, await guesser.CommandAsync(Plain($"user-{i}", "wrong")));
            }

            Assert.Equal(LockedOut, await guesser.CommandAsync(Plain("user-5", "wrong")));
            Assert.True(await guesser.WaitClosedAsync());
        }

        Assert.Equal(6, authenticator.Attempts.Count);
        await using (var locked = await host.ConnectEhloAsync())
        {
            // Not even asked for credentials: the 421 answers the AUTH command itself.
            Assert.Equal(LockedOut, await locked.CommandAsync("AUTH LOGIN"));
            Assert.True(await locked.WaitClosedAsync());
        }

        await using (var other = await host.ConnectEhloAsync(IPAddress.Parse("127.0.0.2")))
        {
            Assert.Equal("235 2.7.0 Authentication successful", await other.CommandAsync(Plain("alice", "s3cret")));
        }

        time.Advance(TimeSpan.FromMinutes(15));
        await using var later = await host.ConnectEhloAsync();
        Assert.Equal("235 2.7.0 Authentication successful", await later.CommandAsync(Plain("alice", "s3cret")));
        Assert.Equal(8, authenticator.Attempts.Count);
    }

    [Fact]
    public void Throttle_PerAddressCeiling_CountsEveryUserName_PerUserLimitCountsOnlyOne()
    {
        var throttle = new AuthFailureThrottle(new SmtpServerOptions { MaxAuthFailures = 2, MaxAuthFailuresPerAddress = 4 }, new HardeningTime());
        var client = IPAddress.Parse("192.0.2.7");
        Assert.False(throttle.RecordFailure(client, "a").LockedOut);
        Assert.False(throttle.RecordFailure(client, "b").LockedOut);
        Assert.False(throttle.RecordFailure(client, "c").LockedOut);
        Assert.False(throttle.IsLockedOut(client));
        Assert.False(throttle.IsLockedOut(client, "a"));
        Assert.True(throttle.RecordFailure(client, "a").LockedOut);
        Assert.True(throttle.IsLockedOut(client));
        Assert.True(throttle.IsLockedOut(client, "z"));
        Assert.False(throttle.IsLockedOut(IPAddress.Parse("192.0.2.8"), "a"));
    }

    [Fact]
    public async Task AuthLogin_WrongPassword_CountsTowardTheSameLimit()
    {
        var time = new HardeningTime();
        var authenticator = new ServerTestAuthenticator("alice", "s3cret");
        await using var host = await ServerTestHost.StartAsync(
            o => Throttled(o, authenticator) with { AuthFailuresBeforeDelay = 10, MaxAuthFailures = 2 }, time);
        await using var client = await host.ConnectEhloAsync();
        static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

        Assert.Equal("334 UGFzc3dvcmQ6", await client.CommandAsync("AUTH LOGIN " + B64("alice")));
        Assert.Equal(Failed, await client.CommandAsync(B64("nope")));
        Assert.Equal("334 UGFzc3dvcmQ6", await client.CommandAsync("AUTH LOGIN " + B64("alice")));
        Assert.Equal(LockedOut, await client.CommandAsync(B64("nope-again")));
        Assert.True(await client.WaitClosedAsync());
    }

    [Fact]
    public void Throttle_Ipv6AddressesInOneSlash64_ShareOneCount()
    {
        var throttle = new AuthFailureThrottle(new SmtpServerOptions { MaxAuthFailures = 2 }, new HardeningTime());
        Assert.False(throttle.RecordFailure(IPAddress.Parse("2001:db8:1:2::1"), "alice").LockedOut);
        Assert.True(throttle.RecordFailure(IPAddress.Parse("2001:db8:1:2:ffff::9"), "alice").LockedOut);
        Assert.True(throttle.IsLockedOut(IPAddress.Parse("2001:db8:1:2::77"), "alice"));
        Assert.False(throttle.IsLockedOut(IPAddress.Parse("2001:db8:1:3::1"), "alice"));
    }

    [Fact]
    public void Throttle_ManyAddresses_TableStaysBoundedAndNewestKept()
    {
        var time = new HardeningTime();
        var throttle = new AuthFailureThrottle(new SmtpServerOptions { MaxAuthFailures = 1 }, time);
        for (var i = 0; i < AuthFailureThrottle.MaxTracked + 50; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            throttle.RecordFailure(new IPAddress(BitConverter.GetBytes(0x0A000000 + i)), "alice");
        }

        // Both tables (address + user, address alone) are bounded.
        Assert.Equal(2 * AuthFailureThrottle.MaxTracked, throttle.TrackedCount);
        Assert.True(throttle.IsLockedOut(new IPAddress(BitConverter.GetBytes(0x0A000000 + AuthFailureThrottle.MaxTracked + 49)), "alice"));
        Assert.False(throttle.IsLockedOut(new IPAddress(BitConverter.GetBytes(0x0A000000)), "alice"));
    }

    [Fact]
    public void Throttle_MaxAuthFailuresZero_NeverLocksOut()
    {
        var throttle = new AuthFailureThrottle(
            new SmtpServerOptions { MaxAuthFailures = 0, MaxAuthFailuresPerAddress = 0, AuthFailuresBeforeDelay = 100 }, new HardeningTime());
        for (var i = 0; i < 50; i++)
        {
            Assert.False(throttle.RecordFailure(IPAddress.Loopback, "alice").LockedOut);
        }

        Assert.False(throttle.IsLockedOut(IPAddress.Loopback, "alice"));
    }

    /// <summary>Sends a failing AUTH and proves its 535 waits exactly <paramref name="delay"/> of virtual time.</summary>
    private static async Task AssertDelayedFailureAsync(ServerTestClient client, HardeningTime time, string command, TimeSpan delay)
    {
        await client.SendAsync(command + "\r\n");
        await HardeningTime.WaitUntilAsync(() => time.ArmedFor(delay) == 1, $"the session sleeps {delay} before its 535");
        var reply = client.ReadReplyAsync();
        time.Advance(delay - TimeSpan.FromTicks(1));
        Assert.Equal(1, time.ArmedFor(delay));
        Assert.False(reply.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(Failed, await reply);
    }
}
