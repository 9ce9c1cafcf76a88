using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Smtp.Server;

internal enum SmtpState : byte
{
    /// <summary>Greeting sent; no EHLO/HELO yet (also right after STARTTLS, RFC 3207 4.2).</summary>
    Connected,

    /// <summary>EHLO/HELO done, no transaction.</summary>
    Ready,

    /// <summary>MAIL accepted, no recipient accepted yet.</summary>
    HaveMail,

    /// <summary>At least one RCPT accepted: DATA is allowed.</summary>
    HaveRcpt,
}

/// <summary>Checks run on a command the state allows, before the command itself (in this order).</summary>
[Flags]
internal enum SmtpGuard : byte
{
    None = 0,

    /// <summary>RequireTls and not under TLS → 530 5.7.0 Must issue a STARTTLS command first.</summary>
    Tls = 1,

    /// <summary>RequireAuth and not authenticated → 530 5.7.0 Authentication required.</summary>
    Auth = 2,
}

/// <param name="Allowed">False: the command is refused with <see cref="Refusal"/> and the state stays.</param>
/// <param name="Next">The state after the command succeeds (a refused command keeps the state).</param>
internal readonly record struct SmtpTransition(bool Allowed, SmtpState Next, SmtpGuard Guards, SmtpReply Refusal);

/// <summary>
/// The whole protocol in one place (RFC 5321 4.1.4 ordering, RFC 3207 STARTTLS, RFC 4954 AUTH):
/// for each state, the commands it accepts, their guards, and the state a success leads to.
/// Anything not listed is refused with the state's reply, which says what would be accepted.
/// </summary>
internal static class SmtpStateTable
{
    private static readonly SmtpReply SendHeloFirst = new(503, "5.5.1", "Error: send HELO/EHLO first");
    private static readonly SmtpReply NeedMail = new(503, "5.5.1", "Error: need MAIL command");
    private static readonly SmtpReply NeedRcpt = new(503, "5.5.1", "Error: need RCPT command");
    private static readonly SmtpReply NestedMail = new(503, "5.5.1", "Error: nested MAIL command");
    private static readonly SmtpReply InTransaction = new(503, "5.5.1", "Error: MAIL transaction in progress");

    private static readonly SmtpTransition[,] Table = Build();

    public static SmtpTransition Lookup(SmtpState state, SmtpVerb verb) => Table[(int)state, (int)verb];

    private static SmtpTransition[,] Build()
    {
        var states = Enum.GetValues<SmtpState>().Length;
        var verbs = Enum.GetValues<SmtpVerb>().Length;
        var table = new SmtpTransition[states, verbs];

        // Commands valid in every state; they never move the state except as noted.
        foreach (var state in Enum.GetValues<SmtpState>())
        {
            Allow(state, SmtpVerb.Noop, state);
            Allow(state, SmtpVerb.Vrfy, state);
            Allow(state, SmtpVerb.Help, state);
            Allow(state, SmtpVerb.Quit, state);
            Allow(state, SmtpVerb.Rset, state == SmtpState.Connected ? SmtpState.Connected : SmtpState.Ready);
            Allow(state, SmtpVerb.Ehlo, SmtpState.Ready);   // a new EHLO also abandons a transaction (RFC 5321 4.1.4)
            Allow(state, SmtpVerb.Helo, SmtpState.Ready);
        }

        Allow(SmtpState.Connected, SmtpVerb.StartTls, SmtpState.Connected);
        Refuse(SmtpState.Connected, SendHeloFirst, SmtpVerb.Mail, SmtpVerb.Rcpt, SmtpVerb.Data, SmtpVerb.Auth);

        Allow(SmtpState.Ready, SmtpVerb.StartTls, SmtpState.Connected);
        Allow(SmtpState.Ready, SmtpVerb.Auth, SmtpState.Ready, SmtpGuard.Tls);
        Allow(SmtpState.Ready, SmtpVerb.Mail, SmtpState.HaveMail, SmtpGuard.Tls | SmtpGuard.Auth);
        Refuse(SmtpState.Ready, NeedMail, SmtpVerb.Rcpt);
        Refuse(SmtpState.Ready, NeedRcpt, SmtpVerb.Data);

        Allow(SmtpState.HaveMail, SmtpVerb.Rcpt, SmtpState.HaveRcpt, SmtpGuard.Tls);
        Refuse(SmtpState.HaveMail, NestedMail, SmtpVerb.Mail);
        Refuse(SmtpState.HaveMail, NeedRcpt, SmtpVerb.Data);
        Refuse(SmtpState.HaveMail, InTransaction, SmtpVerb.Auth, SmtpVerb.StartTls);

        Allow(SmtpState.HaveRcpt, SmtpVerb.Rcpt, SmtpState.HaveRcpt, SmtpGuard.Tls);
        Allow(SmtpState.HaveRcpt, SmtpVerb.Data, SmtpState.Ready, SmtpGuard.Tls);
        Refuse(SmtpState.HaveRcpt, NestedMail, SmtpVerb.Mail);
        Refuse(SmtpState.HaveRcpt, InTransaction, SmtpVerb.Auth, SmtpVerb.StartTls);

        return table;

        void Allow(SmtpState state, SmtpVerb verb, SmtpState next, SmtpGuard guards = SmtpGuard.None) =>
            table[(int)state, (int)verb] = new SmtpTransition(true, next, guards, default);

        void Refuse(SmtpState state, SmtpReply reply, params SmtpVerb[] refused)
        {
            foreach (var verb in refused)
            {
                table[(int)state, (int)verb] = new SmtpTransition(false, state, SmtpGuard.None, reply);
            }
        }
    }
}
