using System.Text;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

public sealed class SmtpServerLifetimeTests
{
    [Fact]
    public async Task CommandTimeout_IdleClient_Gets421AndIsClosed()
    {
        var time = new ServerTestTime();
        await using var host = await ServerTestHost.StartAsync(o => o with { CommandTimeout = TimeSpan.FromMinutes(5) }, time);
        await using var client = await host.ConnectEhloAsync();
        await ServerTestHost.WaitUntilAsync(() => time.ArmedTimers > 0, "the session waits for a command");
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));

        // The wait for the next command must be armed afresh (due 5 minutes from now), not the one
        // still armed from before NOOP; advancing against the old one races the server.
        var rearmedAt = time.GetUtcNow() + TimeSpan.FromMinutes(5);
        await ServerTestHost.WaitUntilAsync(() => time.HasTimerDueAtOrAfter(rearmedAt), "the session waits for the next command");
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal("421 4.4.2 test.local Error: timeout exceeded", await client.ReadReplyAsync());
        Assert.True(await client.WaitClosedAsync());
    }

    [Fact]
    public async Task DataTimeout_StalledBody_Gets421AndNothingIsDelivered()
    {
        var time = new ServerTestTime();
        await using var host = await ServerTestHost.StartAsync(o => o with { DataTimeout = TimeSpan.FromMinutes(10) }, time);
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        await client.CommandAsync("RCPT TO:<a@b.test>");
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        await client.SendAsync("partial line");
        await ServerTestHost.WaitUntilAsync(() => time.ArmedTimers > 0, "the session waits for data");

        // Reading "partial line" re-arms the wait at the same virtual time, so advance until it fires.
        Assert.Equal("421 4.4.2 test.local Error: timeout exceeded",
            await time.AdvanceUntilAsync(client.ReadReplyAsync(), TimeSpan.FromMinutes(10)));
        Assert.True(await client.WaitClosedAsync());
        Assert.Empty(host.Handlers.Messages);
        await ServerTestHost.WaitUntilAsync(() => host.Handlers.Calls.Contains("RESET"), "the transaction is abandoned");
    }

    [Fact]
    public async Task StopAsync_IdleSession_Gets421ShuttingDown()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        await host.Server.StopAsync(TestContext.Current.CancellationToken);
        Assert.Equal("421 4.3.2 Service shutting down", await client.ReadReplyAsync());
        Assert.True(await client.WaitClosedAsync());
        Assert.Equal(0, host.Server.ActiveSessions);
    }

    [Fact]
    public async Task StopAsync_MidTransaction_LetsTransactionFinishThen421()
    {
        await using var host = await ServerTestHost.StartAsync();
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        await client.CommandAsync("RCPT TO:<a@b.test>");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stop = host.Server.StopAsync(deadline.Token);
        Assert.StartsWith("354", await client.CommandAsync("DATA"));
        Assert.Equal("250 2.0.0 Ok: queued as TEST", await client.CommandAsync("still delivered\r\n."));
        Assert.Equal("421 4.3.2 Service shutting down", await client.ReadReplyAsync());
        await stop;
        Assert.Equal("still delivered\r\n", Encoding.ASCII.GetString(Assert.Single(host.Handlers.Messages).Data));
    }

    [Fact]
    public async Task StopAsync_DeadlinePassesInsideHandler_Gets421AndCloses()
    {
        await using var host = await ServerTestHost.StartAsync();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Handlers.OnData = async ct =>
        {
            entered.SetResult();
            await Task.Delay(Timeout.Infinite, ct);
        };
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        await client.CommandAsync("RCPT TO:<a@b.test>");
        await client.CommandAsync("DATA");
        await client.SendAsync("x\r\n.\r\n");
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        using var deadline = new CancellationTokenSource();
        var stop = host.Server.StopAsync(deadline.Token);
        Assert.False(stop.IsCompleted);
        await deadline.CancelAsync();
        await stop.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        Assert.True(await client.WaitClosedAsync());
        Assert.Equal(0, host.Server.ActiveSessions);
    }

    [Fact]
    public async Task StopAsync_NewConnections_AreRefused()
    {
        await using var host = await ServerTestHost.StartAsync();
        var endPoint = host.EndPoint;
        await host.Server.StopAsync(TestContext.Current.CancellationToken);
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => ServerTestClient.ConnectAsync(endPoint));
    }

    [Fact]
    public async Task BoundEndPoints_PortZero_ReportsActualPorts()
    {
        await using var host = await ServerTestHost.StartAsync(o => o with
        {
            Listeners = [o.Listeners[0], o.Listeners[0] with { Tls = TlsMode.None }],
        });
        Assert.Equal(2, host.Server.BoundEndPoints.Count);
        Assert.All(host.Server.BoundEndPoints, e => Assert.NotEqual(0, e.Port));
        await using var second = await host.ConnectAsync(port: host.Server.BoundEndPoints[1].Port);
        Assert.Equal("250 2.0.0 Ok", await second.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Session_ClientDisconnectsMidData_HandlerIsResetAndDisposed()
    {
        await using var host = await ServerTestHost.StartAsync();
        var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        await client.CommandAsync("RCPT TO:<a@b.test>");
        await client.CommandAsync("DATA");
        await client.SendAsync("half a message");
        await client.DisposeAsync();
        await ServerTestHost.WaitUntilAsync(() => host.Handlers.Disposed == 1, "the handler is disposed");
        Assert.Contains("RESET", host.Handlers.Calls);
        Assert.Empty(host.Handlers.Messages);
    }
}
