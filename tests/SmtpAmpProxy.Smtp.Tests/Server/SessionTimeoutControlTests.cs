using Microsoft.Extensions.Time.Testing;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>The session's deadlines on virtual time: which limit a wait is held to and how long it may last.</summary>
public sealed class SessionTimeoutControlTests
{
    private static readonly SmtpServerOptions Options = new()
    {
        CommandTimeout = TimeSpan.FromMinutes(5),
        HeloTimeout = TimeSpan.FromMinutes(2),
        AuthTimeout = TimeSpan.FromMinutes(1),
        DataTimeout = TimeSpan.FromMinutes(10),
        MinDataRateBytesPerSecond = 100,
        MinDataRateGracePeriod = TimeSpan.FromSeconds(10),
    };

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void CommandLine_BeforeEhlo_IsHeldToWhatIsLeftOfTheGreetingPhase()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.StartGreeting();
        _time.Advance(TimeSpan.FromSeconds(90));

        control.StartCommandLine();

        Assert.Equal(SessionTimeout.GreetingToEhlo, control.Limit);
        Assert.Equal(TimeSpan.FromSeconds(30), control.NextReadTimeout());
    }

    [Fact]
    public void CommandLine_AfterEhlo_GetsTheWholeCommandTimeoutAgain()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.StartGreeting();
        _time.Advance(TimeSpan.FromSeconds(90));
        control.Greeted();

        control.StartCommandLine();

        Assert.Equal(SessionTimeout.CommandLine, control.Limit);
        Assert.Equal(Options.CommandTimeout, control.NextReadTimeout());
    }

    [Fact]
    public void CommandLine_BytesTrickledIn_DoNotRestartTheLineDeadline()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.Greeted();
        control.StartCommandLine();

        _time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(TimeSpan.FromMinutes(2), control.NextReadTimeout());

        _time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(TimeSpan.Zero, control.NextReadTimeout());
    }

    [Fact]
    public void AuthLines_ShareOneExchangeDeadline_AndTheLastOneIsHeldToIt()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.Greeted();
        control.StartAuthExchange();

        control.StartAuthLine();
        Assert.Equal(SessionTimeout.Auth, control.Limit);
        Assert.Equal(TimeSpan.FromMinutes(1), control.NextReadTimeout());

        _time.Advance(TimeSpan.FromSeconds(45));
        control.StartAuthLine();
        Assert.Equal(SessionTimeout.Auth, control.Limit);
        Assert.Equal(TimeSpan.FromSeconds(15), control.NextReadTimeout());
    }

    [Fact]
    public void AuthLine_ExchangeLongerThanCommandTimeout_IsHeldToTheCommandLine()
    {
        var options = Options with { AuthTimeout = TimeSpan.FromMinutes(30) };
        using var control = new SessionTimeoutControl(_time, options);
        control.StartAuthExchange();

        control.StartAuthLine();

        Assert.Equal(SessionTimeout.CommandLine, control.Limit);
        Assert.Equal(options.CommandTimeout, control.NextReadTimeout());
    }

    [Fact]
    public void Data_NothingReceivedYet_WaitsTheGracePeriodAsARateLimit()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.StartData();
        control.DataReceived(0);

        Assert.Equal(TimeSpan.FromSeconds(10), control.NextReadTimeout());
        Assert.Equal(SessionTimeout.DataRate, control.Limit);
    }

    [Fact]
    public void Data_AheadOfTheRate_WaitsUntilWhatWasReceivedFallsBelowIt()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.StartData();
        _time.Advance(TimeSpan.FromSeconds(5));
        control.DataReceived(5_000);

        // 5,000 bytes at 100 B/s cover 50 s from the start of DATA; 5 s of them are gone.
        Assert.Equal(TimeSpan.FromSeconds(45), control.NextReadTimeout());
        Assert.Equal(SessionTimeout.DataRate, control.Limit);
        Assert.Equal(5_000, control.DataBytes);
        Assert.Equal(TimeSpan.FromSeconds(5), control.DataElapsed);
    }

    [Fact]
    public void Data_FarAheadOfTheRate_IsHeldToTheIdleLimit()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.StartData();
        control.DataReceived(1_000_000);

        Assert.Equal(Options.DataTimeout, control.NextReadTimeout());
        Assert.Equal(SessionTimeout.DataIdle, control.Limit);
    }

    [Fact]
    public void Data_BelowTheRate_GetsOneShortWaitNotZero()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.StartData();
        _time.Advance(TimeSpan.FromSeconds(30));
        control.DataReceived(100);

        var timeout = control.NextReadTimeout();

        Assert.True(timeout > TimeSpan.Zero && timeout < TimeSpan.FromSeconds(1), $"{timeout}");
        Assert.Equal(SessionTimeout.DataRate, control.Limit);
    }

    [Fact]
    public void Data_NoMinimumRate_IsHeldToTheIdleLimitOnly()
    {
        using var control = new SessionTimeoutControl(_time, Options with { MinDataRateBytesPerSecond = 0 });
        control.StartData();
        _time.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(Options.DataTimeout, control.NextReadTimeout());
        Assert.Equal(SessionTimeout.DataIdle, control.Limit);
    }

    [Fact]
    public void CommandLine_AfterData_IsACommandWaitAgain()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        control.Greeted();
        control.StartData();
        control.StartCommandLine();

        Assert.Equal(Options.CommandTimeout, control.NextReadTimeout());
        Assert.Equal(SessionTimeout.CommandLine, control.Limit);
    }

    [Fact]
    public void Arm_TimePassesTheTimeout_CancelsTheWait()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        var token = control.Arm(TimeSpan.FromSeconds(30));

        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(token.IsCancellationRequested);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(token.IsCancellationRequested);
        Assert.True(control.Expired);
    }

    [Fact]
    public void Disarm_BeforeTheTimeout_TheWaitIsNeverCancelled()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        var token = control.Arm(TimeSpan.FromSeconds(30));
        control.Disarm();

        _time.Advance(TimeSpan.FromHours(1));

        Assert.False(token.IsCancellationRequested);
        Assert.False(control.Expired);
    }

    [Fact]
    public void Disarm_AfterTheTimerFired_NextWaitGetsAFreshTimer()
    {
        using var control = new SessionTimeoutControl(_time, Options);
        var fired = control.Arm(TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(fired.IsCancellationRequested);

        control.Disarm();
        var next = control.ArmWrite();

        Assert.False(next.IsCancellationRequested);
        Assert.False(control.Expired);
        _time.Advance(Options.CommandTimeout);
        Assert.True(next.IsCancellationRequested);
    }
}
