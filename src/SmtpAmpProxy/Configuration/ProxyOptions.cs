using Microsoft.Extensions.Options;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Configuration;

/// <summary>The <c>Proxy</c> section of <c>config/appsettings.json</c>. Defaults are the design's.</summary>
internal sealed record ProxyOptions
{
    public const string SectionName = "Proxy";

    public string ServerName { get; init; } = "smtp-amp-proxy.local";

    /// <summary>Null means the default listener; the binder would append to a non-null default.</summary>
    public IReadOnlyList<ListenOptions>? Listen { get; init; }

    public TlsOptions Tls { get; init; } = new();
    public AccessOptions Access { get; init; } = new();
    [ValidateObjectMembers]
    public LimitsOptions Limits { get; init; } = new();
    public SmtpBehaviourOptions Smtp { get; init; } = new();
    public AmpOptions Amp { get; init; } = new();
    [ValidateObjectMembers]
    public UpstreamOptions Upstream { get; init; } = new();
    [ValidateObjectMembers]
    public HttpOptions Http { get; init; } = new();
    public DkimOptions Dkim { get; init; } = new();
    [ValidateObjectMembers]
    public ProxyProtocolOptions ProxyProtocol { get; init; } = new();
    public QuarantineOptions Quarantine { get; init; } = new();
    public PerformanceOptions Performance { get; init; } = new();
    public Webhook.WebhookOptions Webhook { get; init; } = new();
    public RelayOptions Relay { get; init; } = new();
    [ValidateObjectMembers]
    public QueueModeOptions Queue { get; init; } = new();

    public IReadOnlyList<ListenOptions> EffectiveListen =>
        Listen is { Count: > 0 } ? Listen : [new ListenOptions()];
}

internal sealed record ListenOptions
{
    public string Endpoint { get; init; } = "0.0.0.0:2525";
    public TlsMode Tls { get; init; } = TlsMode.StartTls;

    /// <summary>True: connections come through a load balancer that sends a PROXY protocol header first.</summary>
    public bool ProxyProtocol { get; init; }
}

internal sealed record TlsOptions
{
    public string CertificatePath { get; init; } = "certs/tls.crt";
    public string KeyPath { get; init; } = "certs/tls.key";

    /// <summary>True: a missing certificate stops the start instead of serving without STARTTLS.</summary>
    public bool Require { get; init; }

    public TlsVersion MinimumVersion { get; init; } = TlsVersion.Tls12;
}

internal enum TlsVersion { Tls12, Tls13 }

internal sealed record AccessOptions
{
    /// <summary>
    /// Networks that may relay without AUTH. Null means loopback only (Postfix's mynetworks_style = host): behind
    /// source NAT or a load balancer every outside client can look private, so the private ranges are never
    /// assumed; a deployment names its senders' networks.
    /// </summary>
    public IReadOnlyList<string>? AllowedNetworks { get; init; }

    public bool RequireAuth { get; init; }
    public bool AllowAuthWithoutTls { get; init; }
    public bool AcceptAnyAuth { get; init; }
    public IReadOnlyList<string>? AllowedSenderDomains { get; init; }
    public IReadOnlyList<UserOptions>? Users { get; init; }

    public static readonly IReadOnlyList<string> DefaultAllowedNetworks = ["127.0.0.0/8", "::1/128"];

    public IReadOnlyList<string> EffectiveAllowedNetworks => AllowedNetworks ?? DefaultAllowedNetworks;
}

internal sealed record UserOptions
{
    public string Name { get; init; } = "";

    /// <summary>A salted PBKDF2 hash as printed by <c>smtp-amp-proxy hash-password</c>.</summary>
    public string PasswordHash { get; init; } = "";
}

internal sealed record LimitsOptions
{
    /// <summary>20 MiB: SendGrid's guidance for a message sent over SMTP.</summary>
    [Positive]
    public long MaxMessageBytes { get; init; } = 20 * 1024 * 1024;

    [Positive]
    public int MaxRecipients { get; init; } = 1000;
    [Positive]
    public int MaxConnections { get; init; } = 1000;
    [Positive]
    public int MaxConnectionsPerIp { get; init; } = 50;

    /// <summary>Postfix's line_length_limit; RFC 5321 §4.5.3.1.4 requires at least 512.</summary>
    public int MaxCommandLineBytes { get; init; } = 2048;

    /// <summary>The top-level header block, checked in DATA for every message (Postfix's header_size_limit).</summary>
    [Positive]
    public int MaxHeaderBytes { get; init; } = 256 * 1024;

    [Positive]
    public int MaxErrorsPerSession { get; init; } = 20;

    /// <summary>Slowloris in DATA: below this rate, after the grace period, 421 4.4.2 (Postfix's smtpd_min_data_rate). 0: off.</summary>
    [NotNegative]
    public int MinDataRateBytesPerSecond { get; init; } = 500;

    [NotNegative]
    public TimeSpan MinDataRateGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Password guessing: AUTH failures per client address before each further 535 is delayed (doubling).</summary>
    [NotNegative]
    public int AuthFailuresBeforeDelay { get; init; } = 3;

    [NotNegative]
    public TimeSpan AuthFailureDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>At this many AUTH failures for one user from one address, AUTH as that user from there gets 421 4.7.0 until AuthFailureWindow passes. 0: off.</summary>
    [NotNegative]
    public int MaxAuthFailures { get; init; } = 5;

    /// <summary>At this many AUTH failures from one address, whatever the users, every AUTH from it gets 421 4.7.0 (a guesser rotating names). 0: off.</summary>
    [NotNegative]
    public int MaxAuthFailuresPerAddress { get; init; } = 30;

    [Positive]
    public TimeSpan AuthFailureWindow { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>For each whole command line, from the moment the proxy waits for it (a trickle does not restart it).</summary>
    [Positive]
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>From the greeting until EHLO/HELO succeeds, in total.</summary>
    [Positive]
    public TimeSpan HeloTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>From AUTH to its last response line, in total.</summary>
    [Positive]
    public TimeSpan AuthTimeout { get; init; } = TimeSpan.FromMinutes(1);

    [Positive]
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);
    [Positive]
    public int MaxMimeDepth { get; init; } = 32;
    [Positive]
    public int MaxMimeParts { get; init; } = 1000;

    /// <summary>A message larger than this is spilled to a temporary file while it is handled.</summary>
    [Positive]
    public int MemoryBufferBytes { get; init; } = 1024 * 1024;

    /// <summary>Where those files go; empty: the system temp folder. Readiness fails while it cannot be written.</summary>
    public string SpillDirectory { get; init; } = "";

    public TimeSpan ShutdownDrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

internal sealed record SmtpBehaviourOptions
{
    public BareLineFeedPolicy BareLineFeed { get; init; } = BareLineFeedPolicy.Normalize;
    public BareCarriageReturnPolicy BareCarriageReturn { get; init; } = BareCarriageReturnPolicy.Reject;
    public bool AddReceivedHeader { get; init; } = true;
}

internal enum UpstreamMode { Smtp, Directory }

internal sealed record UpstreamOptions
{
    public UpstreamMode Mode { get; init; } = UpstreamMode.Smtp;
    public string Host { get; init; } = "smtp.sendgrid.net";
    [TcpPort]
    public int Port { get; init; } = 587;
    public TlsMode Tls { get; init; } = TlsMode.StartTls;
    public string Username { get; init; } = "apikey";

    /// <summary>The SendGrid API key; <c>SENDGRID_API_KEY</c> fills it. Never logged.</summary>
    public string Password { get; init; } = "";

    public string CaCertificatePath { get; init; } = "";

    /// <summary>
    /// Upstream connections at most. A connection is held only while a sender moves a transaction forward, so
    /// 100 serve the default Limits:MaxConnectionsPerIp (50) from one address within its share, with as many
    /// again for everyone else. SendGrid allows 10,000 concurrent connections per server.
    /// </summary>
    [Positive]
    public int MaxConnections { get; init; } = 100;

    /// <summary>
    /// Upstream connections one client address may hold at once; past it, 451 4.7.1 at once. 0: half of
    /// MaxConnections, so one sender (or an attacker dawdling on purpose) never starves the others.
    /// </summary>
    [NotNegative]
    public int MaxConnectionsPerClient { get; init; }

    /// <summary>How long a transaction waits for a free upstream connection before 451 4.4.5.</summary>
    [Positive]
    public TimeSpan PoolWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long an upstream connection waits on an idle sender (between commands, or inside a DATA the sender
    /// is still sending) before it is given back; the envelope is replayed on another when the sender goes on.
    /// Well under upstream idle timeouts (Postfix under stress: 10 s; RFC 5321 4.5.3.2: 5 minutes).
    /// </summary>
    [Positive]
    public TimeSpan MaxIdleHold { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The wait after a refused login before the next attempt; it doubles with each refusal, up to 15 minutes.</summary>
    [Positive]
    public TimeSpan AuthBackoff { get; init; } = TimeSpan.FromSeconds(30);

    [Positive]
    public int MaxMessagesPerConnection { get; init; } = 1000;
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);
    [Positive]
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);
    [Positive]
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(2);
    [Positive]
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);
    public string Directory { get; init; } = "outbox";
}

internal sealed record HttpOptions
{
    public string Endpoint { get; init; } = "0.0.0.0:8080";

    /// <summary>
    /// Open connections to the operations port. Probes and a scraper need a handful; the room above
    /// that is for connections a slow or hostile client holds until <see cref="RequestHeadersTimeout"/>.
    /// </summary>
    [Positive]
    public int MaxConnections { get; init; } = 512;

    /// <summary>A request's headers must arrive within this (Kestrel's default is 30 s): slowloris.</summary>
    [Positive]
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

internal enum DkimRepairAction { Keep, Remove, Resign }

internal sealed record DkimOptions
{
    public DkimRepairAction OnRepair { get; init; } = DkimRepairAction.Keep;
    public IReadOnlyList<DkimKeyOptions>? Keys { get; init; }
}

internal sealed record DkimKeyOptions
{
    public string Domain { get; init; } = "";
    public string Selector { get; init; } = "";
    public string PrivateKeyPath { get; init; } = "";
}

internal sealed record ProxyProtocolOptions
{
    /// <summary>The load balancers allowed to send a PROXY header (CIDR); connections from others are closed.</summary>
    public IReadOnlyList<string>? TrustedNetworks { get; init; }

    /// <summary>For the whole header, from the connection's first byte.</summary>
    [Positive]
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);
}

internal sealed record QuarantineOptions
{
    /// <summary>Where each rejected message is kept as .eml with a .json of its reason; empty: off.</summary>
    public string Directory { get; init; } = "";

    /// <summary>The folder's bound (1 GiB); the oldest messages are removed first.</summary>
    public long MaxTotalBytes { get; init; } = 1024L * 1024 * 1024;
}

internal sealed record PerformanceOptions
{
    /// <summary>
    /// True: socket continuations run on the runtime's socket event threads instead of being queued to the
    /// thread pool. Every SMTP exchange is small and waits on the network, so the hand-off to a pool thread
    /// (a wake-up, often a context switch, and the pool's spinning) was most of the proxy's CPU per message.
    /// </summary>
    public bool InlineSocketCompletions { get; init; } = true;
}

/// <summary>Mirror: the sender hears the upstream's own replies and retries. Queue: the proxy stores and forwards.</summary>
internal enum RelayMode { Mirror, Queue }

internal sealed record RelayOptions
{
    public RelayMode Mode { get; init; } = RelayMode.Mirror;
}

/// <summary>The spool and delivery schedule of Queue mode; defaults are Postfix's.</summary>
internal sealed record QueueModeOptions
{
    /// <summary>One spool per instance, on storage that survives a restart (a PersistentVolumeClaim per replica).</summary>
    public string Directory { get; init; } = "/var/spool/smtp-amp-proxy";

    /// <summary>Past this many spooled bytes new mail is answered 452 4.3.1 (10 GiB).</summary>
    [Positive]
    public long MaxBytes { get; init; } = 10L * 1024 * 1024 * 1024;

    /// <summary>Postfix's minimal_backoff_time; each later retry waits twice as long.</summary>
    [Positive]
    public TimeSpan MinimalBackoff { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Postfix's maximal_backoff_time.</summary>
    public TimeSpan MaximalBackoff { get; init; } = TimeSpan.FromSeconds(4000);

    /// <summary>Postfix's maximal_queue_lifetime: undelivered recipients then fail and are reported.</summary>
    [Positive]
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromDays(5);

    /// <summary>Every delivery status notification goes here instead of to the envelope sender; empty: to the sender.</summary>
    public string BounceTo { get; init; } = "";

    /// <summary>Messages delivered at once, each on one upstream connection from the relay's pool.</summary>
    [Positive]
    public int Workers { get; init; } = 8;
}
