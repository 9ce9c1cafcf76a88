using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

internal enum SmtpVerb : byte
{
    Unknown,
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    Auth,

    /// <summary>Not a client verb: the line crossed MaxCommandLineBytes.</summary>
    LineTooLong,
}

/// <summary>One parsed command line. A syntax error is carried as <see cref="Error"/> (the reply to send).</summary>
internal readonly struct SmtpCommand
{
    public SmtpVerb Verb { get; init; }

    /// <summary>EHLO/HELO name, MAIL/RCPT path ("" for &lt;&gt;), AUTH mechanism (upper-case).</summary>
    public string? Argument { get; init; }

    /// <summary>MAIL/RCPT raw parameters; AUTH initial response.</summary>
    public string? Parameters { get; init; }

    public MailParameters? Mail { get; init; }

    /// <summary>The path holds UTF-8 (RFC 6531): allowed only in an SMTPUTF8 transaction.</summary>
    public bool PathIsUtf8 { get; init; }

    public SmtpReply? Error { get; init; }

    /// <summary>For <see cref="SmtpVerb.LineTooLong"/>: false while the rest of the line is still to be discarded.</summary>
    public bool LineComplete { get; init; }

    public static SmtpCommand Fail(SmtpVerb verb, SmtpReply error) => new() { Verb = verb, Error = error };
}
