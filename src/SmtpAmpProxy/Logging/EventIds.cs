namespace SmtpAmpProxy.Logging;

/// <summary>
/// Every log event id of the appliance, and the only place one is defined: 3000–3099 start and stop,
/// 3100–3199 message outcomes (3150–3159 quarantine), 3200–3299 the operations endpoint, 3300–3399 the
/// Event Webhook and X-SMTPAPI tagging. The SMTP library (1000–2999) and the queue (4000–4999) keep their
/// own tables, SmtpEventIds and QueueEventIds.
/// </summary>
internal static class EventIds
{
    /// <summary>The events of <c>ProxyLog</c>.</summary>
    public static class Proxy
    {
        public const int Listening = 3000;
        public const int StartTlsWithoutCertificate = 3001;
        public const int ConfigurationFile = 3002;
        public const int Draining = 3003;
        public const int Stopped = 3004;
        public const int SocketCompletionMode = 3005;
        public const int BroadRelayNetwork = 3006;
        public const int MessageOutcome = 3100;
        public const int UpstreamFailed = 3101;
        public const int AmpWarning = 3102;
        public const int DkimOutcome = 3103;
        public const int UpstreamAuthFailed = 3104;
        public const int UpstreamReplaced = 3105;
        public const int LeaseReleased = 3106;
    }

    /// <summary>The events of <c>QuarantineLog</c>.</summary>
    public static class Quarantine
    {
        public const int Kept = 3150;
        public const int Failed = 3151;
        public const int Pruned = 3152;
    }

    /// <summary>The events of <c>HttpLog</c>.</summary>
    public static class Http
    {
        public const int Listening = 3200;
        public const int Disabled = 3201;
        public const int NotReady = 3202;
        public const int Ready = 3203;
    }

    /// <summary>The events of <c>WebhookLog</c>.</summary>
    public static class Webhook
    {
        public const int Listening = 3300;
        public const int Refused = 3301;
        public const int Batch = 3302;
        public const int Untagged = 3310;
    }
}
