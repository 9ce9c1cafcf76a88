using System.Diagnostics;
using SmtpAmpProxy.Smtp;

namespace SmtpAmpProxy.Metrics;

/// <summary>
/// The proxy's traces: one <c>smtp.transaction</c> activity from MAIL to the transaction's final reply, with
/// <c>smtp.normalize</c> and <c>smtp.upstream.data</c> children. Without a listener (no tracer provider
/// samples the source) <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null and a
/// transaction costs one check; tags are only built for an activity that records them.
/// </summary>
internal static class ProxyTracing
{
    public const string SourceName = "SmtpAmpProxy";

    public const string Transaction = "smtp.transaction";
    public const string Normalize = "smtp.normalize";
    public const string UpstreamData = "smtp.upstream.data";

    public const string SessionIdTag = "smtp.session.id";
    public const string ClientAddressTag = "client.address";
    public const string VerdictTag = "smtp.verdict";
    public const string UpstreamReplyCodeTag = "smtp.upstream.reply_code";
    public const string UpstreamQueueIdTag = "smtp.upstream.queue_id";

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
}
