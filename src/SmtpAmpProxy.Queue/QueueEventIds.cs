namespace SmtpAmpProxy.Queue;

/// <summary>
/// Every log event id of the queue, and the only place one is defined: 4000–4099 spool, 4100–4199 delivery
/// and notifications, 4200–4299 queue control (the project's other ranges are listed in SmtpEventIds).
/// </summary>
internal static class QueueEventIds
{
    /// <summary>The events of <c>QueueLog</c>.</summary>
    public static class Queue
    {
        public const int Opened = 4000;
        public const int PartialFileRemoved = 4001;
        public const int CorruptStateMoved = 4002;
        public const int WriteFailed = 4003;
        public const int Queued = 4004;
        public const int IntakeTailCut = 4005;
        public const int IntakeWriteFailed = 4006;
        public const int IntakeRecordUnreadable = 4007;
        public const int IntakeDamaged = 4008;
        public const int DeliveryAttempt = 4100;
        public const int BounceQueued = 4101;
        public const int BounceSkipped = 4102;
        public const int Removed = 4103;
        public const int StateNotSaved = 4104;
        public const int ControlListening = 4200;
        public const int ControlCommand = 4201;
    }
}
