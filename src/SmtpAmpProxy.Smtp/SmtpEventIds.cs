namespace SmtpAmpProxy.Smtp;

/// <summary>
/// Every log event id of the SMTP library, and the only place one is defined: the log classes name their
/// events from here, so two events cannot share an id by accident. The project's ranges: 1000–1999 SMTP
/// server (1070–1079 PROXY protocol), 2000–2999 SMTP client (2000–2099 connection, 2100–2199 pool),
/// 3000–3999 the appliance (its own table, Logging/EventIds.cs), 4000–4999 the queue (QueueEventIds.cs).
/// Operators filter by these numbers (<c>jq 'select(.EventId == …)'</c>): an id, once shipped, keeps its meaning.
/// </summary>
internal static class SmtpEventIds
{
    /// <summary>The events of <c>ServerLog</c>.</summary>
    public static class Server
    {
        public const int ListenerStarted = 1000;
        public const int Stopping = 1001;
        public const int AcceptFailed = 1002;
        public const int StaleSpillFilesRemoved = 1003;
        public const int SpillSweepFailed = 1004;
        public const int SessionStarted = 1010;
        public const int SessionEnded = 1011;
        public const int ConnectionRefused = 1012;
        public const int SessionFailed = 1013;
        public const int ConnectionLost = 1014;
        public const int TlsHandshakeFailed = 1020;
        public const int TlsEstablished = 1021;
        public const int PlaintextAfterStartTls = 1022;
        public const int ProtocolError = 1030;
        public const int Timeout = 1031;
        public const int TooManyErrors = 1032;
        public const int MessageRefused = 1033;
        public const int RelayDenied = 1034;
        public const int DataTooSlow = 1035;
        public const int SenderVanishedInData = 1036;
        public const int SpillFailed = 1037;
        public const int DeadlinePassed = 1038;
        public const int AuthSucceeded = 1040;
        public const int AuthFailed = 1041;
        public const int AuthLockedOut = 1042;
        public const int HandlerFailed = 1050;
    }

    /// <summary>The events of <c>ProxyProtocolLog</c>.</summary>
    public static class ProxyProtocol
    {
        public const int Untrusted = 1070;
        public const int HeaderTimeout = 1071;
        public const int HeaderMalformed = 1072;
        public const int ClosedBeforeHeader = 1073;
        public const int HeaderAccepted = 1074;
    }

    /// <summary>The events of <c>ClientLog</c>.</summary>
    public static class Client
    {
        public const int Connecting = 2000;
        public const int Ready = 2001;
        public const int CertificateRejected = 2002;
        public const int Authenticated = 2003;
        public const int ConnectFailed = 2004;
        public const int Broken = 2005;
        public const int Sent = 2006;
        public const int Received = 2007;
        public const int Closed = 2009;
        public const int PoolOpened = 2100;
        public const int PoolIdleExpired = 2101;
        public const int PoolIdleDead = 2102;
        public const int PoolRetired = 2103;
        public const int PoolDiscarded = 2104;
    }
}
