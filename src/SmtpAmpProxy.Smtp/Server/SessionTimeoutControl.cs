namespace SmtpAmpProxy.Smtp.Server;

/// <summary>The limit a session's current wait for input is held to; a timeout is logged by it.</summary>
internal enum SessionTimeout : byte
{
    /// <summary>One command line: <see cref="SmtpServerOptions.CommandTimeout"/> from the moment the wait starts.</summary>
    CommandLine,

    /// <summary>Greeting to EHLO/HELO: one deadline for the whole phase, however the client spends it.</summary>
    GreetingToEhlo,

    /// <summary>The whole AUTH exchange (<see cref="SmtpServerOptions.AuthTimeout"/>), across its challenge lines.</summary>
    Auth,

    /// <summary>DATA: no bytes for <see cref="SmtpServerOptions.DataTimeout"/>.</summary>
    DataIdle,

    /// <summary>DATA: what was received so far fell below <see cref="SmtpServerOptions.MinDataRateBytesPerSecond"/>.</summary>
    DataRate,
}

/// <summary>
/// A session's timers in one place, as Kestrel keeps a connection's in its <c>TimeoutControl</c>: the session
/// says which phase it waits in (a command line, an AUTH line, DATA) and this object works out the deadline
/// that phase allows, arms the one cancellation source for the read or write, and disarms it after. Deadlines
/// are points on <see cref="TimeProvider.GetTimestamp"/>, so a whole line or phase has one deadline however
/// the bytes trickle in: a client sending a byte at a time cannot restart it, as it could when every read had
/// its own timeout.
/// </summary>
internal sealed class SessionTimeoutControl : IDisposable
{
    // Below the minimum rate already: one short wait for bytes that may be in flight, then 421.
    private static readonly TimeSpan MinimumDataWait = TimeSpan.FromMilliseconds(10);

    private readonly TimeProvider _time;
    private readonly SmtpServerOptions _options;
    private CancellationTokenSource _armed;
    private bool _inData;
    private bool _greeted;
    private long _greetingDeadline = long.MaxValue;
    private long _authDeadline = long.MaxValue;
    private long _lineDeadline = long.MaxValue;
    private long _dataStarted;
    private long _dataBytes;

    public SessionTimeoutControl(TimeProvider time, SmtpServerOptions options)
    {
        _time = time;
        _options = options;
        _armed = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
    }

    /// <summary>The limit of the phase waited in last: after a timeout, the one that ran out.</summary>
    public SessionTimeout Limit { get; private set; }

    /// <summary>The armed wait ran out (checked right after a read or write was cancelled).</summary>
    public bool Expired => _armed.IsCancellationRequested;

    /// <summary>Message bytes received in the current DATA phase, as last reported.</summary>
    public long DataBytes => _dataBytes;

    /// <summary>Time since the current DATA phase began.</summary>
    public TimeSpan DataElapsed => _time.GetElapsedTime(_dataStarted);

    /// <summary>The greeting went out: until EHLO/HELO succeeds, every command wait ends by the greeting-to-EHLO deadline.</summary>
    public void StartGreeting() => _greetingDeadline = DeadlineAfter(_options.HeloTimeout);

    public void Greeted() => _greeted = true;

    /// <summary>Waiting for a command line: the command timeout from now, or earlier before EHLO.</summary>
    public void StartCommandLine()
    {
        _inData = false;
        _lineDeadline = DeadlineAfter(_options.CommandTimeout);
        Limit = SessionTimeout.CommandLine;
        if (!_greeted && _greetingDeadline < _lineDeadline)
        {
            _lineDeadline = _greetingDeadline;
            Limit = SessionTimeout.GreetingToEhlo;
        }
    }

    /// <summary>
    /// AUTH began: the whole exchange has one deadline, so a client answering each challenge just inside the
    /// command timeout cannot hold the session (and a password check slot) for a multiple of it.
    /// </summary>
    public void StartAuthExchange() => _authDeadline = DeadlineAfter(_options.AuthTimeout);

    /// <summary>Waiting for an AUTH response line: within the command timeout and the exchange's deadline.</summary>
    public void StartAuthLine()
    {
        _inData = false;
        var line = DeadlineAfter(_options.CommandTimeout);
        _lineDeadline = Math.Min(line, _authDeadline);
        Limit = _authDeadline <= line ? SessionTimeout.Auth : SessionTimeout.CommandLine;
    }

    /// <summary>354 went out: from now the message's bytes are held to the idle limit and the minimum rate.</summary>
    public void StartData()
    {
        _inData = true;
        _dataStarted = _time.GetTimestamp();
        _dataBytes = 0;
        Limit = SessionTimeout.DataIdle;
    }

    public void DataReceived(long messageBytes) => _dataBytes = messageBytes;

    /// <summary>
    /// How long the next read may wait; zero when the line's or phase's deadline has passed while the client
    /// kept trickling bytes. In DATA this is recomputed at every read (Slowloris): the next bytes must come
    /// before what was received so far falls below the minimum rate (after the grace period), not merely within
    /// <see cref="SmtpServerOptions.DataTimeout"/> of the last byte.
    /// </summary>
    public TimeSpan NextReadTimeout()
    {
        if (!_inData)
        {
            return TimeLeft(_lineDeadline);
        }

        var rate = _options.MinDataRateBytesPerSecond;
        if (rate <= 0)
        {
            Limit = SessionTimeout.DataIdle;
            return _options.DataTimeout;
        }

        var allowed = TimeSpan.FromSeconds((double)_dataBytes / rate);
        if (allowed < _options.MinDataRateGracePeriod)
        {
            allowed = _options.MinDataRateGracePeriod;
        }

        var left = allowed - _time.GetElapsedTime(_dataStarted);
        var timeout = left < MinimumDataWait ? MinimumDataWait : left < _options.DataTimeout ? left : _options.DataTimeout;
        Limit = timeout < _options.DataTimeout ? SessionTimeout.DataRate : SessionTimeout.DataIdle;
        return timeout;
    }

    /// <summary>Arms the wait of one read; <see cref="Disarm"/> after it, whatever its outcome.</summary>
    public CancellationToken Arm(TimeSpan timeout)
    {
        _armed.CancelAfter(timeout);
        return _armed.Token;
    }

    /// <summary>
    /// Arms a write or a TLS handshake: a client that stops reading must not hold a session forever, so the
    /// write has the command timeout too.
    /// </summary>
    public CancellationToken ArmWrite() => Arm(_options.CommandTimeout);

    public void Disarm()
    {
        _armed.CancelAfter(Timeout.InfiniteTimeSpan);
        if (_armed.IsCancellationRequested)
        {
            // The timer fired just as the wait completed: the data wins, the next wait gets a fresh timer.
            _armed.Dispose();
            _armed = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        }
    }

    public void Dispose() => _armed.Dispose();

    /// <summary>A point on the session's clock <paramref name="span"/> from now.</summary>
    private long DeadlineAfter(TimeSpan span)
    {
        var ticks = span.TotalSeconds * _time.TimestampFrequency;
        var now = _time.GetTimestamp();
        return ticks >= long.MaxValue - now ? long.MaxValue : now + (long)ticks;
    }

    private TimeSpan TimeLeft(long deadline)
    {
        if (deadline == long.MaxValue)
        {
            return Timeout.InfiniteTimeSpan;
        }

        var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
