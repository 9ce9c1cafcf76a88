using SmtpAmpProxy.Queue.Delivery;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Tests.Delivery;

public sealed class RetryScheduleTests
{
    [Fact]
    public void DelayAfter_PostfixDefaults_DoublesFromMinimalUpToMaximal()
    {
        var schedule = new RetrySchedule(new QueueOptions { Directory = "unused" });

        int[] seconds = [.. Enumerable.Range(1, 8).Select(n => (int)schedule.DelayAfter(n).TotalSeconds)];

        Assert.Equal([300, 600, 1200, 2400, 4000, 4000, 4000, 4000], seconds);
        Assert.Equal(TimeSpan.FromSeconds(4000), schedule.DelayAfter(int.MaxValue));
    }

    [Fact]
    public void HasExpired_AtMaxLifetime_TrueAndJustBefore_False()
    {
        var schedule = new RetrySchedule(new QueueOptions { Directory = "unused", MaxLifetime = TimeSpan.FromHours(2) });
        var arrival = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        Assert.False(schedule.HasExpired(arrival, arrival.AddHours(2).AddTicks(-1)));
        Assert.True(schedule.HasExpired(arrival, arrival.AddHours(2)));
    }
}

public sealed class DeliveryRepliesTests
{
    private static readonly SmtpReply Ok = new(250, "2.1.5", "OK");
    private static readonly SmtpReply Queued = new(250, "2.0.0", "Queued as 1");

    [Fact]
    public void PerRecipient_MailRefused_EveryRecipientGetsMailsReply()
    {
        var mail = new SmtpReply(553, "5.7.1", "Sender refused");

        SmtpReply[] replies = DeliveryReplies.PerRecipient(mail, [], null, 2);

        Assert.Equal([mail, mail], replies);
    }

    [Fact]
    public void PerRecipient_OneRcptRefused_ItKeepsItsReplyAndTheOtherGetsData()
    {
        var refused = new SmtpReply(550, "5.1.1", "No such user");

        SmtpReply[] replies = DeliveryReplies.PerRecipient(Ok, [refused, Ok], Queued, 2);

        Assert.Equal([refused, Queued], replies);
    }

    [Fact]
    public void PerRecipient_AcceptedButDataNeverSent_Transient()
    {
        SmtpReply[] replies = DeliveryReplies.PerRecipient(Ok, [Ok], null, 1);

        Assert.True(replies[0].IsTransientFailure);
    }

    [Fact]
    public void PerRecipient_DataRefused_AcceptedRecipientsGetThatRefusal()
    {
        var data = new SmtpReply(554, "5.6.0", "Content refused");
        var refused = new SmtpReply(450, "4.2.1", "Mailbox busy");

        SmtpReply[] replies = DeliveryReplies.PerRecipient(Ok, [Ok, refused], data, 2);

        Assert.Equal([data, refused], replies);
    }
}
