using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Queue.Control;
using SmtpAmpProxy.Queue.Spool;
using SmtpAmpProxy.Queue.Tests.Support;

namespace SmtpAmpProxy.Queue.Tests.Control;

public sealed class QueueControlTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Flush_RunningInstance_DeferredMessageDueAtOnce()
    {
        using var dir = new TempDirectory();
        int calls = 0;
        var upstream = new ScriptedDelivery(r => Delivery.DeliveryRepliesFor(r, ++calls == 1));
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        await using var control = QueueControlServer.Start(queue, NullLoggerFactory.Instance);
        await QueueTest.EnqueueAsync(queue, "flush-me", "a@example.net");
        await queue.DeliverDueAsync(Ct);
        var output = new StringWriter();

        int exit = await QueueCommand.RunAsync(dir.Path, ["flush"], output, new StringWriter(), TimeProvider.System, Ct);

        Assert.Equal(0, exit);
        Assert.Equal("1 messages due now", output.ToString().Trim());
        Assert.Equal(1, await queue.DeliverDueAsync(Ct));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Flush_NoRunningInstance_FailsSayingSo()
    {
        using var dir = new TempDirectory();
        var error = new StringWriter();

        int exit = await QueueCommand.RunAsync(dir.Path, ["flush"], new StringWriter(), error, TimeProvider.System, Ct);

        Assert.Equal(1, exit);
        Assert.Contains("no running instance", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_RunningInstance_MessageGoneFromScheduleAndDisk()
    {
        using var dir = new TempDirectory();
        var upstream = ScriptedDelivery.Always(ScriptedDelivery.Ok);
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), upstream, QueueTest.Clock(), NullLoggerFactory.Instance);
        await using var control = QueueControlServer.Start(queue, NullLoggerFactory.Instance);
        string id = (await QueueTest.EnqueueAsync(queue, "delete-me", "a@example.net")).QueueId!;

        Assert.Equal(0, await QueueCommand.RunAsync(dir.Path, ["delete", id], new StringWriter(), new StringWriter(), TimeProvider.System, Ct));
        Assert.Equal(1, await QueueCommand.RunAsync(dir.Path, ["delete", id], new StringWriter(), new StringWriter(), TimeProvider.System, Ct));

        Assert.Equal(0, queue.Count);
        Assert.Equal(0, await queue.DeliverDueAsync(Ct));
        Assert.Empty(upstream.Requests);
        Assert.Null(MessageSpool.ReadContentOffline(dir.Path, id));
        Assert.Empty(MessageSpool.ReadAll(dir.Path));
    }

    [Fact]
    public async Task Delete_NoRunningInstance_RemovesFilesUnderTheSpoolLock()
    {
        using var dir = new TempDirectory();
        string id;
        using (var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance))
        {
            id = (await QueueTest.EnqueueAsync(queue, "offline", "a@example.net")).QueueId!;
        }

        int exit = await QueueCommand.RunAsync(dir.Path, ["delete", id], new StringWriter(), new StringWriter(), TimeProvider.System, Ct);

        Assert.Equal(0, exit);
        Assert.Empty(MessageSpool.ReadAll(dir.Path));
        using var reopened = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Ok), QueueTest.Clock(), NullLoggerFactory.Instance);
        Assert.Equal(0, reopened.Count);
    }

    [Theory]
    [InlineData("delete", "../queue/x")]
    [InlineData("show", "../../etc/passwd")]
    public async Task Command_IdNotOfOurShape_RefusedWithoutTouchingFiles(string verb, string id)
    {
        using var dir = new TempDirectory();

        int exit = await QueueCommand.RunAsync(dir.Path, [verb, id], new StringWriter(), new StringWriter(), TimeProvider.System, Ct);

        Assert.NotEqual(0, exit);
    }

    [Fact]
    public async Task ListJson_QueuedMessages_ParseableWithStatesAndReplies()
    {
        using var dir = new TempDirectory();
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Busy), QueueTest.Clock(), NullLoggerFactory.Instance);
        string id = (await QueueTest.EnqueueAsync(queue, "listed", "a@example.net")).QueueId!;
        await queue.DeliverDueAsync(Ct);
        var output = new StringWriter();

        Assert.Equal(0, await QueueCommand.RunAsync(dir.Path, ["list", "--json"], output, new StringWriter(), TimeProvider.System, Ct));

        using JsonDocument json = JsonDocument.Parse(output.ToString());
        JsonElement message = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal(id, message.GetProperty("id").GetString());
        JsonElement recipient = message.GetProperty("recipients")[0];
        Assert.Equal("Deferred", recipient.GetProperty("status").GetString());
        Assert.Equal(451, recipient.GetProperty("lastReply").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task ListAndShow_QueuedMessage_TextNamesRecipientStateAndHeaders()
    {
        using var dir = new TempDirectory();
        using var queue = MailQueue.Open(QueueTest.Options(dir.Path), ScriptedDelivery.Always(ScriptedDelivery.Busy), QueueTest.Clock(), NullLoggerFactory.Instance);
        string id = (await QueueTest.EnqueueAsync(queue, "shown", "a@example.net")).QueueId!;
        await queue.DeliverDueAsync(Ct);
        var list = new StringWriter();
        var show = new StringWriter();

        Assert.Equal(0, await QueueCommand.RunAsync(dir.Path, ["list"], list, new StringWriter(), TimeProvider.System, Ct));
        Assert.Equal(0, await QueueCommand.RunAsync(dir.Path, ["show", id], show, new StringWriter(), TimeProvider.System, Ct));

        Assert.Contains(id, list.ToString(), StringComparison.Ordinal);
        Assert.Contains("a@example.net deferred (1 attempts", list.ToString(), StringComparison.Ordinal);
        Assert.Contains("-- 1 messages", list.ToString(), StringComparison.Ordinal);
        Assert.Contains("Subject: shown", show.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Hello.", show.ToString(), StringComparison.Ordinal);
    }
}

file static class Delivery
{
    public static Smtp.Protocol.SmtpReply[] DeliveryRepliesFor(Queue.Delivery.DeliveryRequest r, bool first) =>
        Queue.Delivery.DeliveryReplies.ForAll(r.Recipients.Count, first ? ScriptedDelivery.Busy : ScriptedDelivery.Ok);
}
