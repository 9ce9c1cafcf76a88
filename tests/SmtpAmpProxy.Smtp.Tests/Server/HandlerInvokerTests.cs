using System.Net;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>The one path to the handler: its failures become 451 4.3.0 and a log line naming the command.</summary>
public sealed class HandlerInvokerTests
{
    private const int HandlerFailedEvent = 1050;
    private static readonly MailParameters Parameters = new(null, null, false, "");
    private static readonly SmtpSessionInfo Info = new(7, new IPEndPoint(IPAddress.Loopback, 40000), new IPEndPoint(IPAddress.Loopback, 25));

    private readonly ServerTestLoggerProvider _logs = new();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Mail_HandlerThrows_Gets451AndOneLogLineNamingMail(bool afterWaiting)
    {
        var handler = new FailingHandler(afterWaiting);
        var invoker = new HandlerInvoker(handler, _logs.CreateLogger("test"), Info, CancellationToken.None);

        var pending = invoker.MailAsync("sender@example.com", Parameters);
        Assert.Equal(!afterWaiting, pending.IsCompleted);
        handler.Release();
        var reply = await pending;

        Assert.Equal(SmtpReplies.InternalError.Reply, reply);
        var entry = Assert.Single(_logs.Entries);
        Assert.Equal(HandlerFailedEvent, entry.EventId);
        Assert.Contains("MAIL", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryCommand_HandlerFailsAfterWaiting_EachGets451AndNamesItsCommand()
    {
        var handler = new FailingHandler(afterWaiting: true);
        var invoker = new HandlerInvoker(handler, _logs.CreateLogger("test"), Info, CancellationToken.None);
        handler.Release();
        using var message = new MessageBuffer(1024, new SpillFolder(Path.GetTempPath()));

        Assert.Equal(SmtpReplies.InternalError.Reply, await invoker.RcptAsync("rcpt@example.net", ""));
        Assert.Equal(SmtpReplies.InternalError.Reply, await invoker.DataStartAsync());
        Assert.Equal(SmtpReplies.InternalError.Reply, await invoker.DataAsync(message));
        await invoker.ResetAsync();
        await invoker.DisposeAsync();

        Assert.All(_logs.Entries, entry => Assert.Equal(HandlerFailedEvent, entry.EventId));
        Assert.Equal(["RCPT", "DATA", "DATA", "RSET", "dispose"], _logs.Entries.Select(e => CommandIn(e.Message)));
    }

    [Fact]
    public async Task Rcpt_HandlerAnswersAtOnce_ReplyPassesThroughUnlogged()
    {
        var invoker = new HandlerInvoker(new ServerTestHandlerFactory().Create(Info), _logs.CreateLogger("test"), Info, CancellationToken.None);

        var pending = invoker.RcptAsync("rcpt@example.net", "");

        Assert.True(pending.IsCompletedSuccessfully);
        Assert.Equal(250, (await pending).Code);
        Assert.Empty(_logs.Entries);
    }

    [Fact]
    public async Task Mail_SessionAbortedWhileHandlerFails_TheFailureEndsTheSession()
    {
        using var abort = new CancellationTokenSource();
        var handler = new FailingHandler(afterWaiting: true);
        var invoker = new HandlerInvoker(handler, _logs.CreateLogger("test"), Info, abort.Token);

        var pending = invoker.MailAsync("sender@example.com", Parameters);
        await abort.CancelAsync();
        handler.Release();

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pending);
        Assert.Empty(_logs.Entries);
    }

    private static string CommandIn(string message) =>
        new[] { "RCPT", "DATA", "RSET", "dispose" }.First(command => message.Contains(command, StringComparison.Ordinal));

    /// <summary>Throws from every call, at once or once released (a handler that failed while waiting on its upstream).</summary>
    private sealed class FailingHandler(bool afterWaiting) : ISmtpSessionHandler
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _release.TrySetResult();

        public ValueTask<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct) => FailAsync<SmtpReply>();

        public ValueTask<SmtpReply> RcptAsync(string forwardPath, string rawParameters, CancellationToken ct) => FailAsync<SmtpReply>();

        public ValueTask<SmtpReply?> DataStartAsync(CancellationToken ct) => FailAsync<SmtpReply?>();

        public ValueTask<SmtpReply> DataAsync(MessageBuffer message, CancellationToken ct) => FailAsync<SmtpReply>();

        public async ValueTask ResetAsync(CancellationToken ct) => await FailAsync<bool>();

        public async ValueTask DisposeAsync() => await FailAsync<bool>();

        private ValueTask<T> FailAsync<T>()
        {
            if (!afterWaiting)
            {
                throw new InvalidOperationException("handler broke");
            }

            return WaitThenFailAsync<T>();
        }

        private async ValueTask<T> WaitThenFailAsync<T>()
        {
            await _release.Task;
            throw new InvalidOperationException("handler broke");
        }
    }
}
