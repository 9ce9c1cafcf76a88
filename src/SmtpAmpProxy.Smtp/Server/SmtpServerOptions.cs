using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using SmtpAmpProxy.Smtp.Access;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>What DATA does with a LF not preceded by CR (RFC 5321 2.3.8 forbids it).</summary>
public enum BareLineFeedPolicy
{
    /// <summary>A bare LF is a line end, stored as CRLF (Postfix 3.9 "normalize"); it never ends the data.</summary>
    Normalize,

    /// <summary>The message is refused with 554 5.5.2 after its end.</summary>
    Reject,
}

/// <summary>What DATA does with a CR not followed by LF (RFC 5321 2.3.8 forbids it).</summary>
public enum BareCarriageReturnPolicy
{
    /// <summary>The message is refused with 554 5.5.2 after its end (the safe default: "\r.\r" smuggling).</summary>
    Reject,

    /// <summary>
    /// A bare CR is a line end, stored as CRLF, for legacy senders that end lines with CR alone. Like a
    /// normalized bare LF it never ends the data, and the line after it is not a line start for the terminator.
    /// </summary>
    Normalize,
}

public sealed record SmtpListenerOptions
{
    public IPEndPoint EndPoint { get; init; } = new(IPAddress.Loopback, 2525);

    public TlsMode Tls { get; init; } = TlsMode.StartTls;

    /// <summary>
    /// True: every connection must start with a PROXY protocol header (v1 or v2) from one of
    /// <see cref="RelayAccessPolicy.ProxyProtocolSources"/>; its source address becomes the client's.
    /// </summary>
    public bool ProxyProtocol { get; init; }
}

public sealed record SmtpServerOptions
{
    public string ServerName { get; init; } = "smtp-amp-proxy.local";

    public IReadOnlyList<SmtpListenerOptions> Listeners { get; init; } = [];

    /// <summary>Null: STARTTLS is not offered and implicit-TLS listeners cannot start.</summary>
    public X509Certificate2? Certificate { get; init; }

    public SslProtocols TlsProtocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    public bool RequireTls { get; init; }

    /// <summary>Who may relay: networks, AUTH, PROXY header sources.</summary>
    public RelayAccessPolicy Access { get; init; } = RelayAccessPolicy.Closed;

    /// <summary>False keeps passwords off plaintext connections (RFC 4954 section 4).</summary>
    public bool AllowAuthWithoutTls { get; init; }

    /// <summary>Null: AUTH is not offered.</summary>
    public ISmtpAuthenticator? Authenticator { get; init; }

    /// <summary>20 MB: SendGrid's guidance for SMTP messages; enforced on the bytes read, not only on SIZE=.</summary>
    public long MaxMessageBytes { get; init; } = 20971520;

    /// <summary>RFC 5321 4.5.3.1.8 asks for at least 100; Postfix's smtpd_recipient_limit is 1000.</summary>
    public int MaxRecipients { get; init; } = 1000;

    public int MaxConnections { get; init; } = 1000;

    /// <summary>Stops one host from taking every session slot.</summary>
    public int MaxConnectionsPerIp { get; init; } = 50;

    /// <summary>RFC 5321 4.5.3.1.4 says 512 minimum; Postfix line_length_limit is 2048. Includes the CRLF.</summary>
    public int MaxCommandLineBytes { get; init; } = 2048;

    /// <summary>Postfix smtpd_hard_error_limit is 20: a client that keeps failing is a probe or a broken loop.</summary>
    public int MaxErrorsPerSession { get; init; } = 20;

    /// <summary>
    /// RFC 5321 4.5.3.2.7 suggests 5 minutes. A total for each command line, counted from the moment the server
    /// waits for it: bytes trickled in one every few seconds do not restart it.
    /// </summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// From the greeting until EHLO or HELO succeeds, in total: a client that never introduces itself (NOOPs,
    /// refused commands, a trickle) cannot hold a connection slot for longer than this.
    /// </summary>
    public TimeSpan HeloTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>From the AUTH command to its last response line, in total (RFC 4954 leaves it to the server).</summary>
    public TimeSpan AuthTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>RFC 5321 4.5.3.2.5 suggests 3 minutes per data block; 10 minutes for the whole wait.</summary>
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Bytes of the top-level header block (before the first empty line), checked while DATA is read, for every
    /// message: stops a sender from making every later stage (MIME parser, DKIM, the upstream) chew through a
    /// header-only flood. Postfix's header_size_limit is 100 KB; 256 KB matches the MIME parser's own limit.
    /// </summary>
    public int MaxHeaderBytes { get; init; } = 262144;

    /// <summary>
    /// Slowloris in DATA: a client sending one byte just inside each <see cref="DataTimeout"/> holds a session
    /// (and an upstream connection) for hours. Below this rate, after <see cref="MinDataRateGracePeriod"/>, the
    /// session gets 421 4.4.2. Postfix 3.7's smtpd_min_data_rate is 500. 0 turns the check off.
    /// </summary>
    public int MinDataRateBytesPerSecond { get; init; } = 500;

    /// <summary>Time at the start of DATA before the rate counts (as Kestrel's MinRequestBodyDataRate grace period).</summary>
    public TimeSpan MinDataRateGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Password guessing: AUTH failures from one client address (across its sessions) before each further 535 is
    /// delayed, by <see cref="AuthFailureDelay"/> doubling per failure. 0 delays from the first failure.
    /// </summary>
    public int AuthFailuresBeforeDelay { get; init; } = 3;

    public TimeSpan AuthFailureDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// At this many AUTH failures for one user name from one address the session gets 421 4.7.0 and is closed, and
    /// AUTH as that user from that address keeps getting 421 until <see cref="AuthFailureWindow"/> passes without a
    /// failure. Other users behind the same address (NAT, a balancer) still log in. 0 turns it off.
    /// </summary>
    public int MaxAuthFailures { get; init; } = 5;

    /// <summary>
    /// At this many AUTH failures from one address, whatever the user names, every AUTH from it gets 421 until the
    /// window passes: a guesser that rotates user names. Higher than <see cref="MaxAuthFailures"/> so that a few
    /// users mistyping behind one NAT do not lock the others out. 0 turns it off.
    /// </summary>
    public int MaxAuthFailuresPerAddress { get; init; } = 30;

    public TimeSpan AuthFailureWindow { get; init; } = TimeSpan.FromMinutes(15);

    public BareLineFeedPolicy BareLineFeed { get; init; } = BareLineFeedPolicy.Normalize;

    public BareCarriageReturnPolicy BareCarriageReturn { get; init; } = BareCarriageReturnPolicy.Reject;

    /// <summary>Messages up to this size stay in memory; larger ones spill to a temp file.</summary>
    public int MemoryBufferBytes { get; init; } = 1048576;

    /// <summary>Where large messages spill; null: a <see cref="SpillFolder"/> on <see cref="TempDirectory"/>.</summary>
    public SpillFolder? Spill { get; init; }

    public string? TempDirectory { get; init; }

    /// <summary>For the whole PROXY header: a trusted peer that stalls must not hold a connection slot.</summary>
    public TimeSpan ProxyProtocolTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
