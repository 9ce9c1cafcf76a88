using System.Diagnostics;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Metrics;

/// <summary>
/// The proxy's traces: one <c>smtp.transaction</c> activity from MAIL to the transaction's final reply, with
/// an <c>smtp.upstream.envelope</c> child for each MAIL and RCPT the upstream answers, then <c>smtp.normalize</c>
/// and <c>smtp.upstream.data</c> children. Without a listener (no tracer provider
/// samples the source) <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null and a
/// transaction costs one check; tags are only built for an activity that records them.
/// </summary>
internal static class ProxyTracing
{
    public const string SourceName = "SmtpAmpProxy";

    public const string Transaction = "smtp.transaction";
    public const string Normalize = "smtp.normalize";
    public const string UpstreamData = "smtp.upstream.data";
    public const string UpstreamEnvelope = "smtp.upstream.envelope";

    public const string SessionIdTag = "smtp.session.id";
    public const string ClientAddressTag = "client.address";
    public const string VerdictTag = "smtp.verdict";
    public const string UpstreamReplyCodeTag = "smtp.upstream.reply_code";
    public const string UpstreamQueueIdTag = "smtp.upstream.queue_id";
    public const string UpstreamStageTag = "smtp.upstream.stage";
    public const string UpstreamReplyClassTag = "smtp.upstream.reply_class";
    public const string UpstreamFaultTag = "smtp.upstream.fault";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>Starts a transaction's activity as a root: a session carries many transactions, each its own trace.</summary>
    public static Activity? StartTransaction(SmtpSessionInfo session)
    {
        var activity = Source.StartActivity(Transaction, ActivityKind.Server, parentContext: default(ActivityContext), tags: null, links: null, startTime: default);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(SessionIdTag, session.SessionId);
            activity.SetTag(ClientAddressTag, session.RemoteEndPoint.Address.ToString());
        }

        return activity;
    }

    /// <summary>Records a verdict (<c>pass</c>, <c>repaired</c>, <c>rejected:code</c>) and the reply the sender got.</summary>
    public static void SetOutcome(Activity? activity, string? verdict, SmtpReply reply)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        if (verdict is not null)
        {
            activity.SetTag(VerdictTag, verdict);
        }

        activity.SetTag(UpstreamReplyCodeTag, reply.Code);
        if (Relay.MessageFacts.FindQueueId(reply.Text) is { } queueId)
        {
            activity.SetTag(UpstreamQueueIdTag, queueId);
        }
    }

    /// <summary>
    /// Starts the upstream exchange that answers one envelope command (<paramref name="stage"/> <c>mail</c> or
    /// <c>rcpt</c>) as a child of <paramref name="transaction"/>: each command runs in its own async flow, so the
    /// parent is given, not taken from <see cref="Activity.Current"/>. Null when the transaction is not traced.
    /// </summary>
    public static Activity? StartEnvelope(Activity? transaction, string stage)
    {
        if (transaction is null)
        {
            return null;
        }

        var activity = Source.StartActivity(UpstreamEnvelope, ActivityKind.Client, transaction.Context);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(UpstreamStageTag, stage);
        }

        return activity;
    }

    /// <summary>The reply the exchange ended with, by code and class; a fault the proxy answered for marks the span failed.</summary>
    public static void SetEnvelopeOutcome(Activity? activity, SmtpReply reply, string? faultKind)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        activity.SetTag(UpstreamReplyCodeTag, reply.Code);
        activity.SetTag(UpstreamReplyClassTag, ProxyMetrics.ReplyClass(reply.Code));
        if (faultKind is not null)
        {
            activity.SetTag(UpstreamFaultTag, faultKind);
            activity.SetStatus(ActivityStatusCode.Error, faultKind);
        }
    }
}
