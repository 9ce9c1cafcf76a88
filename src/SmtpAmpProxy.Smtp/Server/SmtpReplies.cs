using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

/// <summary>A reply encoded once, written by copying its bytes: no formatting on the hot path.</summary>
internal sealed class EncodedReply
{
    public EncodedReply(SmtpReply reply)
    {
        Reply = reply;
        Bytes = SmtpReplyWriter.Encode(reply);
    }

    public SmtpReply Reply { get; }

    public byte[] Bytes { get; }
}

/// <summary>The replies the server makes itself. Texts follow Postfix where it has one.</summary>
internal sealed class SmtpReplies
{
    private readonly EncodedReply[] _ehlo = new EncodedReply[(int)SmtpOffers.All + 1];
    private readonly EncodedReply[] _help = new EncodedReply[(int)SmtpOffers.All + 1];

    public static readonly EncodedReply Ok = new(new(250, "2.0.0", "Ok"));
    public static readonly EncodedReply DataStart = new(new(354, "", "End data with <CR><LF>.<CR><LF>"));
    public static readonly EncodedReply Bye = new(new(221, "2.0.0", "Bye"));
    public static readonly EncodedReply Vrfy = new(new(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"));
    public static readonly EncodedReply LineTooLong = new(new(500, "5.5.2", "Line too long"));
    public static readonly EncodedReply MustStartTls = new(new(530, "5.7.0", "Must issue a STARTTLS command first"));
    public static readonly EncodedReply AuthRequired = new(new(530, "5.7.0", "Authentication required"));
    public static readonly EncodedReply TooManyRecipients = new(new(452, "4.5.3", "Error: too many recipients"));
    public static readonly EncodedReply SizeExceeded = new(new(552, "5.3.4", "Message size exceeds fixed limit"));
    public static readonly EncodedReply HeaderSizeExceeded = new(new(552, "5.3.4", "Message header size exceeds limit"));
    public static readonly EncodedReply BareCr = new(new(554, "5.5.2", "Error: bare <CR> received"));
    public static readonly EncodedReply BareLf = new(new(554, "5.5.2", "Error: bare <LF> received"));
    public static readonly EncodedReply NoValidRecipients = new(new(554, "5.5.1", "Error: no valid recipients"));
    public static readonly EncodedReply Utf8NotDeclared = new(new(553, "5.6.7", "Error: UTF-8 address needs the SMTPUTF8 parameter"));
    public static readonly EncodedReply Utf8NotOffered = new(new(553, "5.6.7", "Error: SMTPUTF8 is not offered here; non-ASCII addresses are not permitted"));
    public static readonly EncodedReply TlsReady = new(new(220, "2.0.0", "Ready to start TLS"));
    public static readonly EncodedReply TlsActive = new(new(554, "5.5.1", "Error: TLS already active"));
    public static readonly EncodedReply TlsNotAvailable = new(new(502, "5.5.1", "Error: command not implemented"));
    public static readonly EncodedReply AuthNotEnabled = new(new(503, "5.5.1", "Error: authentication not enabled"));
    public static readonly EncodedReply AlreadyAuthenticated = new(new(503, "5.5.1", "Error: already authenticated"));
    public static readonly EncodedReply AuthMechanism = new(new(504, "5.5.4", "Unsupported authentication mechanism"));
    public static readonly EncodedReply AuthOk = new(new(235, "2.7.0", "Authentication successful"));
    public static readonly EncodedReply AuthFailed = new(new(535, "5.7.8", "Error: authentication failed"));
    public static readonly EncodedReply AuthAborted = new(new(501, "5.7.0", "Authentication aborted"));
    public static readonly EncodedReply AuthDecode = new(new(501, "5.5.2", "Cannot decode response"));
    public static readonly EncodedReply AuthEmptyChallenge = new(new(334, "", ""));
    public static readonly EncodedReply AuthUsername = new(new(334, "", "VXNlcm5hbWU6"));
    public static readonly EncodedReply AuthPassword = new(new(334, "", "UGFzc3dvcmQ6"));
    public static readonly EncodedReply InsufficientStorage = new(new(452, "4.3.1", "Error: insufficient system storage"));
    public static readonly EncodedReply NonAsciiHelo = new(new(501, "5.5.2", "Error: non-ASCII host name (RFC 6531 3.7.1: EHLO takes LDH or A-labels)"));
    public static readonly EncodedReply InternalError = new(new(451, "4.3.0", "Error: internal error"));

    public SmtpReplies(SmtpServerOptions options)
    {
        var name = options.ServerName;
        // RFC 2034 3: the greeting and EHLO/HELO replies carry no enhanced code.
        Greeting = new(new(220, "", $"{name} ESMTP"));
        Helo = new(new(250, "", name));
        Timeout = new(new(421, "4.4.2", $"{name} Error: timeout exceeded"));
        TooManyErrors = new(new(421, "4.7.0", $"{name} Error: too many errors"));
        TooManyConnections = new(new(421, "4.7.0", $"{name} Error: too many connections"));
        TooManyAuthFailures = new(new(421, "4.7.0", $"{name} Error: too many authentication failures"));
        ShuttingDown = new(new(421, "4.3.2", "Service shutting down"));
        for (var offers = 0; offers <= (int)SmtpOffers.All; offers++)
        {
            _ehlo[offers] = Ehlo(name, options.MaxMessageBytes, (SmtpOffers)offers);
            _help[offers] = Help((SmtpOffers)offers);
        }
    }

    public EncodedReply Greeting { get; }

    public EncodedReply Helo { get; }

    public EncodedReply Timeout { get; }

    public EncodedReply TooManyErrors { get; }

    public EncodedReply TooManyConnections { get; }

    public EncodedReply TooManyAuthFailures { get; }

    public EncodedReply ShuttingDown { get; }

    /// <summary>The EHLO reply for what this session is offered.</summary>
    public EncodedReply GetEhlo(SmtpOffers offers) => _ehlo[(int)offers];

    /// <summary>The HELP reply: only the commands and extensions this session is offered.</summary>
    public EncodedReply GetHelp(SmtpOffers offers) => _help[(int)offers];

    private static EncodedReply Ehlo(string name, long maxMessageBytes, SmtpOffers offers)
    {
        List<string> lines = [name, "PIPELINING", $"SIZE {maxMessageBytes}", "8BITMIME"];
        lines.AddRange(Optional(offers, SmtpOffers.SmtpUtf8, "SMTPUTF8"));
        lines.Add("ENHANCEDSTATUSCODES");
        lines.AddRange(Optional(offers, SmtpOffers.StartTls, "STARTTLS"));
        lines.AddRange(Optional(offers, SmtpOffers.Auth, "AUTH PLAIN LOGIN"));
        return new(new(250, "", string.Join('\n', lines)));
    }

    private static EncodedReply Help(SmtpOffers offers)
    {
        string[] commands =
        [
            "EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
            .. Optional(offers, SmtpOffers.StartTls, "STARTTLS"),
            .. Optional(offers, SmtpOffers.Auth, "AUTH"),
        ];
        string[] extensions =
        [
            "PIPELINING SIZE 8BITMIME",
            .. Optional(offers, SmtpOffers.SmtpUtf8, "SMTPUTF8"),
            "ENHANCEDSTATUSCODES",
            .. Optional(offers, SmtpOffers.StartTls, "STARTTLS"),
            .. Optional(offers, SmtpOffers.Auth, "AUTH"),
        ];
        return new(new(214, "2.0.0", $"Commands: {string.Join(' ', commands)}\nExtensions: {string.Join(' ', extensions)}"));
    }

    private static string[] Optional(SmtpOffers offers, SmtpOffers which, string text) => (offers & which) != 0 ? [text] : [];
}

/// <summary>What a session offers beyond the extensions every session has; decided afresh at each EHLO and HELP.</summary>
[Flags]
internal enum SmtpOffers
{
    None = 0,

    /// <summary>A certificate is configured, the listener allows STARTTLS, and TLS is not on yet.</summary>
    StartTls = 1,

    /// <summary>An authenticator is configured, nobody is logged in, and the connection is TLS (or plaintext AUTH is allowed).</summary>
    Auth = 2,

    /// <summary>The handler can carry it on (a relay: its upstream offers it, RFC 6531).</summary>
    SmtpUtf8 = 4,

    All = StartTls | Auth | SmtpUtf8,
}
