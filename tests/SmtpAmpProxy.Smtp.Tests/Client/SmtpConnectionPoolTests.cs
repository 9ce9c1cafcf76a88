using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Client;

public sealed class SmtpConnectionPoolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly IReadOnlyList<ReadOnlyMemory<byte>> Message = [Encoding.ASCII.GetBytes("Subject: pooled\r\n\r\nhi\r\n")];

    /// <summary>An upstream that accepts everything and keeps each session's transcript when it ends.</summary>
    private sealed class AcceptingUpstream : IAsyncDisposable
    {
        public AcceptingUpstream(int port = 0, bool pipelining = true)
        {
            Server = new ClientScriptedServer(
                async s =>
                {
                    try
                    {
                        if (pipelining)
                        {
                            await s.GreetAsync("PIPELINING", "8BITMIME");
                        }
                        else
                        {
                            await s.GreetAsync("8BITMIME");
                        }

                        await s.AcceptAllAsync(Messages);
                    }
                    finally
                    {
                        Transcripts.Enqueue(Encoding.ASCII.GetString(s.Received));
                    }
                },
                port);
        }

        public ClientScriptedServer Server { get; }

        public List<byte[]> Messages { get; } = [];

        public ConcurrentQueue<string> Transcripts { get; } = new();

        public string AllTranscripts => string.Join("", Transcripts);

        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }

    private static SmtpConnectionPool Pool(AcceptingUpstream upstream, SmtpPoolOptions options, TimeProvider? time = null) =>
        new(upstream.Server.Options(), options, NullLoggerFactory.Instance, time);

    private static async Task SendOneAsync(SmtpConnectionLease lease)
    {
        Assert.Equal(354, (await lease.Connection.SendEnvelopeAsync("a@example.com", null, [new("b@example.com")], withData: true, Ct)).Data?.Code);
        Assert.Equal(250, (await lease.Connection.SendContentAsync(Message, Ct)).Code);
    }

    [Fact]
    public async Task Rent_AllConnectionsInUse_WaitsForAReturn()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { MaxConnections = 2 });
        SmtpConnectionLease first = await pool.RentAsync(Ct);
        SmtpConnectionLease second = await pool.RentAsync(Ct);
        SmtpClientConnection secondConnection = second.Connection;

        Task<SmtpConnectionLease> third = pool.RentAsync(Ct);
        Assert.False(third.IsCompleted);
        Assert.Equal(2, pool.TotalCount);
        Assert.Equal(1, pool.WaitingCount);

        await second.ReturnAsync();
        SmtpConnectionLease reused = await third.WaitAsync(TimeSpan.FromSeconds(20), Ct);

        Assert.Same(secondConnection, reused.Connection);
        Assert.Equal(2, pool.TotalCount);
        Assert.Equal(2, pool.RentedCount);
        Assert.Equal(2, upstream.Server.Accepted);
        await first.ReturnAsync();
        await reused.ReturnAsync();
    }

    [Fact]
    public async Task Rent_Concurrent_NeverHandsOutOneConnectionTwice()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { MaxConnections = 3 });
        var inUse = new ConcurrentDictionary<SmtpClientConnection, int>();
        int overlaps = 0;

        await Task.WhenAll(Enumerable.Range(0, 24).Select(async _ =>
        {
            await Task.Yield();
            SmtpConnectionLease lease = await pool.RentAsync(Ct);
            SmtpClientConnection connection = lease.Connection;
            if (!inUse.TryAdd(connection, 0))
            {
                Interlocked.Increment(ref overlaps);
            }

            await SendOneAsync(lease);
            inUse.TryRemove(connection, out int _);
            await lease.ReturnAsync();
        }));

        Assert.Equal(0, overlaps);
        Assert.True(pool.TotalCount <= 3);
        Assert.True(upstream.Server.Accepted <= 3);
        Assert.Equal(24, upstream.Messages.Count);
    }

    [Fact]
    public async Task Return_Twice_Throws()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpConnectionLease lease = await pool.RentAsync(Ct);
        await lease.ReturnAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => lease.ReturnAsync().AsTask());
        await Assert.ThrowsAsync<InvalidOperationException>(() => lease.DiscardAsync("again").AsTask());
        Assert.Equal(1, pool.IdleCount);
    }

    [Fact]
    public async Task Lease_UsedAfterReturn_ThrowsAndTheNextRenterKeepsTheSession()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { MaxConnections = 1 });
        SmtpConnectionLease stale = await pool.RentAsync(Ct);
        await stale.ReturnAsync();
        SmtpConnectionLease current = await pool.RentAsync(Ct);

        Assert.True(stale.IsReturned);
        Assert.Throws<ObjectDisposedException>(() => stale.Connection);
        await SendOneAsync(current);
        await current.ReturnAsync();
        Assert.Single(upstream.Messages);
    }

    [Fact]
    public async Task Return_BrokenConnection_DiscardedAndReplacedOnNextRent()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpConnectionLease lease = await pool.RentAsync(Ct);
        SmtpClientConnection connection = lease.Connection;
        await connection.DisposeAsync();
        Assert.True(connection.IsBroken);

        await lease.ReturnAsync();
        SmtpConnectionLease next = await pool.RentAsync(Ct);

        Assert.NotSame(connection, next.Connection);
        Assert.Equal(1, pool.TotalCount);
        Assert.Equal(2, upstream.Server.Accepted);
        await next.ReturnAsync();
    }

    [Fact]
    public async Task Discard_InsideData_ClosedWithoutRsetOrQuitAndNothingDelivered()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpConnectionLease lease = await pool.RentAsync(Ct);
        SmtpClientConnection connection = lease.Connection;
        await connection.SendEnvelopeAsync("a@example.com", null, [new("b@example.com")], withData: false, Ct);
        await connection.WriteDataAsync(Ct);

        await lease.DiscardAsync("inside DATA");
        await upstream.Server.WaitForSessionsAsync();

        // RSET or QUIT would have become message content; only the close leaves DATA without a message.
        Assert.True(connection.IsBroken);
        Assert.Equal(0, pool.TotalCount);
        Assert.Empty(upstream.Messages);
        Assert.EndsWith("RCPT TO:<b@example.com>\r\nDATA\r\n", upstream.AllTranscripts);
    }

    [Fact]
    public async Task Return_AfterMaxMessagesPerConnection_RetiredWithQuit()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { MaxMessagesPerConnection = 2 });
        for (int i = 0; i < 3; i++)
        {
            SmtpConnectionLease lease = await pool.RentAsync(Ct);
            await SendOneAsync(lease);
            await lease.ReturnAsync();
        }

        Assert.Equal(2, upstream.Server.Accepted);
        Assert.Equal(1, pool.TotalCount);
        Assert.Contains("QUIT\r\n", upstream.Transcripts.First());
        Assert.Equal(2, upstream.Transcripts.First().Split("DATA\r\n").Length - 1);
    }

    [Fact]
    public async Task Sweep_IdlePastIdleTimeout_ClosedWithQuitAndReplacedOnNextRent()
    {
        var time = new ServerTestTime();
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { IdleTimeout = TimeSpan.FromSeconds(30) }, time);
        SmtpConnectionLease lease = await pool.RentAsync(Ct);
        SmtpClientConnection connection = lease.Connection;
        await lease.ReturnAsync();
        Assert.Equal(1, pool.IdleCount);

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(1, pool.IdleCount);
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(0, pool.IdleCount);
        Assert.Equal(0, pool.TotalCount);
        await upstream.Server.WaitForSessionsAsync();
        Assert.EndsWith("QUIT\r\n", upstream.AllTranscripts);
        SmtpConnectionLease next = await pool.RentAsync(Ct);
        Assert.NotSame(connection, next.Connection);
        await next.ReturnAsync();
    }

    [Fact]
    public async Task Rent_IdleLongerThanProbeAfterIdle_ProbesWithNoopThenReuses()
    {
        var time = new ServerTestTime();
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { IdleTimeout = TimeSpan.FromMinutes(5), ProbeAfterIdle = TimeSpan.FromSeconds(5) }, time);
        SmtpConnectionLease lease = await pool.RentAsync(Ct);
        SmtpClientConnection connection = lease.Connection;
        await lease.ReturnAsync();

        time.Advance(TimeSpan.FromSeconds(10));
        SmtpConnectionLease again = await pool.RentAsync(Ct);
        SmtpClientConnection againConnection = again.Connection;
        await again.ReturnAsync();
        await pool.DisposeAsync();
        await upstream.Server.WaitForSessionsAsync();

        Assert.Same(connection, againConnection);
        Assert.Contains("NOOP\r\n", upstream.AllTranscripts);
        Assert.Equal(1, upstream.Server.Accepted);
    }

    [Fact]
    public async Task Rent_UpstreamRestartedWhileIdle_EverySendSucceeds()
    {
        const int Connections = 4;
        var upstream = new AcceptingUpstream();
        int port = upstream.Server.Port;
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { MaxConnections = Connections });
        SmtpConnectionLease[] rented = await Task.WhenAll(Enumerable.Range(0, Connections).Select(_ => pool.RentAsync(Ct)));
        foreach (SmtpConnectionLease lease in rented)
        {
            await SendOneAsync(lease);
            await lease.ReturnAsync();
        }

        Assert.Equal(Connections, pool.IdleCount);

        // The upstream restarts on the same port: every idle session is now dead.
        await upstream.DisposeAsync();
        await using var restarted = new AcceptingUpstream(port);

        int failures = 0;
        await Task.WhenAll(Enumerable.Range(0, Connections * 2).Select(async _ =>
        {
            SmtpConnectionLease lease = await pool.RentAsync(Ct);
            try
            {
                await SendOneAsync(lease);
            }
            catch (SmtpConnectionException)
            {
                Interlocked.Increment(ref failures);
            }
            finally
            {
                await lease.ReturnAsync();
            }
        }));

        Assert.Equal(0, failures);
        Assert.Equal(Connections * 2, restarted.Messages.Count);
        Assert.True(pool.TotalCount <= Connections);
    }

    [Fact]
    public async Task Send_ReusedConnectionDiesAfterRentCheck_ThrowsAndTheNextRentReconnects()
    {
        await using var upstream = new AcceptingUpstream(pipelining: false);
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpConnectionLease lease = await pool.RentAsync(Ct);
        await SendOneAsync(lease);
        await lease.ReturnAsync();
        SmtpConnectionLease again = await pool.RentAsync(Ct);

        // The upstream drops the session between the pool's check and the first command: the rented
        // connection does not reconnect by itself (its user replays on another one); the pool reconnects.
        int port = upstream.Server.Port;
        await upstream.DisposeAsync();
        await using var restarted = new AcceptingUpstream(port, pipelining: false);
        await Assert.ThrowsAsync<SmtpConnectionException>(() => SendOneAsync(again));
        Assert.True(again.Connection.IsBroken);
        await again.ReturnAsync();
        SmtpConnectionLease fresh = await pool.RentAsync(Ct);
        await SendOneAsync(fresh);
        await fresh.ReturnAsync();

        Assert.Single(restarted.Messages);
        Assert.Equal(1, pool.TotalCount);
    }

    [Fact]
    public async Task Dispose_IdleConnections_QuitSent()
    {
        await using var upstream = new AcceptingUpstream();
        SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpConnectionLease a = await pool.RentAsync(Ct);
        SmtpConnectionLease b = await pool.RentAsync(Ct);
        await a.ReturnAsync();
        await b.ReturnAsync();

        await pool.DisposeAsync();
        await upstream.Server.WaitForSessionsAsync();

        Assert.Equal(0, pool.TotalCount);
        Assert.Equal(2, upstream.Transcripts.Count(t => t.EndsWith("QUIT\r\n", StringComparison.Ordinal)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.RentAsync(Ct));
    }
}
