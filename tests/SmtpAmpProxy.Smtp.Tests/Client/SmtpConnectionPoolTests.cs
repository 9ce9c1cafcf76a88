using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
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

    private static async Task SendOneAsync(SmtpClientConnection connection)
    {
        SmtpTransactionReplies replies = await connection.SendMessageAsync("a@example.com", null, [new("b@example.com")], Message, Ct);
        Assert.Equal(250, replies.Data?.Code);
    }

    [Fact]
    public async Task Rent_AllConnectionsInUse_WaitsForAReturn()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { MaxConnections = 2 });
        SmtpClientConnection first = await pool.RentAsync(Ct);
        SmtpClientConnection second = await pool.RentAsync(Ct);

        Task<SmtpClientConnection> third = pool.RentAsync(Ct);
        Assert.False(third.IsCompleted);
        Assert.Equal(2, pool.TotalCount);

        await pool.ReturnAsync(second);
        SmtpClientConnection reused = await third.WaitAsync(TimeSpan.FromSeconds(20), Ct);

        Assert.Same(second, reused);
        Assert.Equal(2, pool.TotalCount);
        Assert.Equal(2, upstream.Server.Accepted);
        await pool.ReturnAsync(first);
        await pool.ReturnAsync(reused);
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
            SmtpClientConnection connection = await pool.RentAsync(Ct);
            if (!inUse.TryAdd(connection, 0))
            {
                Interlocked.Increment(ref overlaps);
            }

            await SendOneAsync(connection);
            inUse.TryRemove(connection, out int _);
            await pool.ReturnAsync(connection);
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
        SmtpClientConnection connection = await pool.RentAsync(Ct);
        await pool.ReturnAsync(connection);

        await Assert.ThrowsAsync<InvalidOperationException>(() => pool.ReturnAsync(connection).AsTask());
        Assert.Equal(1, pool.IdleCount);
    }

    [Fact]
    public async Task Return_BrokenConnection_DiscardedAndReplacedOnNextRent()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpClientConnection connection = await pool.RentAsync(Ct);
        await connection.DisposeAsync();
        Assert.True(connection.IsBroken);

        await pool.ReturnAsync(connection);
        SmtpClientConnection next = await pool.RentAsync(Ct);

        Assert.NotSame(connection, next);
        Assert.Equal(1, pool.TotalCount);
        Assert.Equal(2, upstream.Server.Accepted);
        await pool.ReturnAsync(next);
    }

    [Fact]
    public async Task Return_InsideData_ClosedWithoutRsetOrQuitAndNothingDelivered()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpClientConnection connection = await pool.RentAsync(Ct);
        await connection.SendEnvelopeAsync("a@example.com", null, [new("b@example.com")], Ct);
        await connection.BeginDataAsync(Ct);

        await pool.ReturnAsync(connection);
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
            SmtpClientConnection connection = await pool.RentAsync(Ct);
            await SendOneAsync(connection);
            await pool.ReturnAsync(connection);
        }

        Assert.Equal(2, upstream.Server.Accepted);
        Assert.Equal(1, pool.TotalCount);
        Assert.Contains("QUIT\r\n", upstream.Transcripts.First());
        Assert.Equal(2, upstream.Transcripts.First().Split("DATA\r\n").Length - 1);
    }

    [Fact]
    public async Task Return_TransactionLeftOpen_ResetsBeforeKeeping()
    {
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpClientConnection connection = await pool.RentAsync(Ct);
        await connection.MailAsync("a@example.com", null, Ct);
        Assert.True(connection.IsTransactionOpen);

        await pool.ReturnAsync(connection);

        Assert.False(connection.IsTransactionOpen);
        Assert.Equal(1, pool.IdleCount);
        await pool.DisposeAsync();
        await upstream.Server.WaitForSessionsAsync();
        Assert.Contains("MAIL FROM:<a@example.com>\r\nRSET\r\nQUIT\r\n", upstream.AllTranscripts);
    }

    [Fact]
    public async Task Sweep_IdlePastIdleTimeout_ClosedWithQuitAndReplacedOnNextRent()
    {
        var time = new ServerTestTime();
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { IdleTimeout = TimeSpan.FromSeconds(30) }, time);
        SmtpClientConnection connection = await pool.RentAsync(Ct);
        await pool.ReturnAsync(connection);
        Assert.Equal(1, pool.IdleCount);

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(1, pool.IdleCount);
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(0, pool.IdleCount);
        Assert.Equal(0, pool.TotalCount);
        await upstream.Server.WaitForSessionsAsync();
        Assert.EndsWith("QUIT\r\n", upstream.AllTranscripts);
        SmtpClientConnection next = await pool.RentAsync(Ct);
        Assert.NotSame(connection, next);
        await pool.ReturnAsync(next);
    }

    [Fact]
    public async Task Rent_IdleLongerThanProbeAfterIdle_ProbesWithNoopThenReuses()
    {
        var time = new ServerTestTime();
        await using var upstream = new AcceptingUpstream();
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions { IdleTimeout = TimeSpan.FromMinutes(5), ProbeAfterIdle = TimeSpan.FromSeconds(5) }, time);
        SmtpClientConnection connection = await pool.RentAsync(Ct);
        await pool.ReturnAsync(connection);

        time.Advance(TimeSpan.FromSeconds(10));
        SmtpClientConnection again = await pool.RentAsync(Ct);
        await pool.ReturnAsync(again);
        await pool.DisposeAsync();
        await upstream.Server.WaitForSessionsAsync();

        Assert.Same(connection, again);
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
        SmtpClientConnection[] rented = await Task.WhenAll(Enumerable.Range(0, Connections).Select(_ => pool.RentAsync(Ct)));
        foreach (SmtpClientConnection connection in rented)
        {
            await SendOneAsync(connection);
            await pool.ReturnAsync(connection);
        }

        Assert.Equal(Connections, pool.IdleCount);

        // The upstream restarts on the same port: every idle session is now dead.
        await upstream.DisposeAsync();
        await using var restarted = new AcceptingUpstream(port);

        int failures = 0;
        await Task.WhenAll(Enumerable.Range(0, Connections * 2).Select(async _ =>
        {
            SmtpClientConnection connection = await pool.RentAsync(Ct);
            try
            {
                await SendOneAsync(connection);
            }
            catch (SmtpConnectionException)
            {
                Interlocked.Increment(ref failures);
            }
            finally
            {
                await pool.ReturnAsync(connection);
            }
        }));

        Assert.Equal(0, failures);
        Assert.Equal(Connections * 2, restarted.Messages.Count);
        Assert.True(pool.TotalCount <= Connections);
    }

    [Fact]
    public async Task Send_ReusedConnectionDiesAfterRentCheck_ReconnectsWithoutFailure()
    {
        await using var upstream = new AcceptingUpstream(pipelining: false);
        await using SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpClientConnection connection = await pool.RentAsync(Ct);
        await SendOneAsync(connection);
        await pool.ReturnAsync(connection);
        SmtpClientConnection again = await pool.RentAsync(Ct);

        // The upstream drops the session between the pool's check and the first command.
        int port = upstream.Server.Port;
        await upstream.DisposeAsync();
        await using var restarted = new AcceptingUpstream(port, pipelining: false);
        await SendOneAsync(again);
        await pool.ReturnAsync(again);

        Assert.Same(connection, again);
        Assert.Single(restarted.Messages);
    }

    [Fact]
    public async Task Dispose_IdleConnections_QuitSent()
    {
        await using var upstream = new AcceptingUpstream();
        SmtpConnectionPool pool = Pool(upstream, new SmtpPoolOptions());
        SmtpClientConnection a = await pool.RentAsync(Ct);
        SmtpClientConnection b = await pool.RentAsync(Ct);
        await pool.ReturnAsync(a);
        await pool.ReturnAsync(b);

        await pool.DisposeAsync();
        await upstream.Server.WaitForSessionsAsync();

        Assert.Equal(0, pool.TotalCount);
        Assert.Equal(2, upstream.Transcripts.Count(t => t.EndsWith("QUIT\r\n", StringComparison.Ordinal)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.RentAsync(Ct));
    }
}
