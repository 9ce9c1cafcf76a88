using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Relay;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Tests.Relay;

public sealed class QueueUpstreamTests
{
    [Theory]
    [InlineData(nameof(EnqueueStatus.SpoolFull), 452, "4.3.1")]
    [InlineData(nameof(EnqueueStatus.DiskFull), 452, "4.3.1")]
    [InlineData(nameof(EnqueueStatus.Failed), 451, "4.3.0")]
    public void Reply_SpoolRefused_TransientWithStorageStatus(string status, int code, string enhanced)
    {
        var reply = QueueUpstream.Reply(new EnqueueResult(Enum.Parse<EnqueueStatus>(status), null, "reason"));

        Assert.Equal(code, reply.Code);
        Assert.Equal(enhanced, reply.EnhancedCode);
    }

    [Fact]
    public void Reply_Accepted_250NamingTheQueueIdAsTheLogFindsIt()
    {
        var reply = QueueUpstream.Reply(new EnqueueResult(EnqueueStatus.Accepted, "01a233b99342d9df6cc8", null));

        Assert.Equal(250, reply.Code);
        Assert.Equal("01a233b99342d9df6cc8", MessageFacts.FindQueueId(reply.Text));
    }
}
