namespace SmtpAmpProxy.Smtp.Client;

public sealed record SmtpPoolOptions
{
    public int MaxConnections { get; init; } = 32;

    /// <summary>A connection is closed (QUIT) once it has carried this many messages.</summary>
    public int MaxMessagesPerConnection { get; init; } = 1000;

    /// <summary>An idle connection older than this is closed rather than reused.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A connection idle longer than this is probed with NOOP before it is handed out: a cheap round trip
    /// beats a sender seeing a failure because the upstream dropped the session meanwhile.
    /// </summary>
    public TimeSpan ProbeAfterIdle { get; init; } = TimeSpan.FromSeconds(5);
}
