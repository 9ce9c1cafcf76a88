using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>Where in the life of an upstream connection a failure happened.</summary>
public enum SmtpFailureStage
{
    Connect,
    Greeting,
    Tls,
    Auth,
    Command,
    Data,
}

/// <summary>
/// The connection is gone or never came up: connect failure, TLS failure, refused greeting or AUTH,
/// disconnect, timeout, or a reply that is not SMTP. A refused MAIL/RCPT/DATA is not this: it is a reply.
/// </summary>
public sealed class SmtpConnectionException : Exception
{
    public SmtpConnectionException(
        SmtpFailureStage stage, string message, bool isTimeout = false, SmtpReply? reply = null, Exception? innerException = null, bool isProtocolViolation = false)
        : base(message, innerException)
    {
        Stage = stage;
        IsTimeout = isTimeout;
        Reply = reply;
        IsProtocolViolation = isProtocolViolation;
    }

    /// <summary>The upstream broke SMTP's framing (replies ahead of commands, a 250 for DATA): not an I/O failure, and retrying the same upstream repeats it.</summary>
    public bool IsProtocolViolation { get; }

    public SmtpFailureStage Stage { get; }

    public bool IsTimeout { get; }

    /// <summary>The upstream's reply when it refused the greeting, STARTTLS or AUTH; null for I/O failures.</summary>
    public SmtpReply? Reply { get; }
}
