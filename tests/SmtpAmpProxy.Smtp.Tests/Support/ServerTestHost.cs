using System.Net;
using SmtpAmpProxy.Smtp.Access;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>An <see cref="SmtpServer"/> on 127.0.0.1 port 0 with a recording handler.</summary>
internal sealed class ServerTestHost : IAsyncDisposable
{
    private ServerTestHost(SmtpServer server, ServerTestHandlerFactory handlers, ServerTestLoggerProvider logs, SmtpServerOptions options)
    {
        Server = server;
        Handlers = handlers;
        Logs = logs;
        Options = options;
    }

    public SmtpServer Server { get; }

    public ServerTestHandlerFactory Handlers { get; }

    public ServerTestLoggerProvider Logs { get; }

    public SmtpServerOptions Options { get; }

    public IPEndPoint EndPoint => Server.BoundEndPoints[0];

    public static SmtpServerOptions DefaultOptions() => new()
    {
        ServerName = "test.local",
        Listeners = [new SmtpListenerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Tls = TlsMode.StartTls }],
        Access = new RelayAccessPolicy { AllowedNetworks = [IpNetwork.Parse("127.0.0.0/8")] },
    };

    public static async Task<ServerTestHost> StartAsync(Func<SmtpServerOptions, SmtpServerOptions>? configure = null, TimeProvider? time = null)
    {
        var options = configure?.Invoke(DefaultOptions()) ?? DefaultOptions();
        var handlers = new ServerTestHandlerFactory();
        var logs = new ServerTestLoggerProvider();
        var server = new SmtpServer(options, handlers, logs, time);
        await server.StartAsync(TestContext.Current.CancellationToken);
        return new ServerTestHost(server, handlers, logs, options);
    }

    /// <summary>Connects and reads the greeting.</summary>
    public async Task<ServerTestClient> ConnectAsync(IPAddress? localAddress = null, int? port = null)
    {
        var endPoint = port is null ? EndPoint : new IPEndPoint(EndPoint.Address, port.Value);
        var client = await ServerTestClient.ConnectAsync(endPoint, localAddress);
        var greeting = await client.ReadReplyAsync();
        Assert.StartsWith("220 ", greeting);
        return client;
    }

    /// <summary>Connects, reads the greeting, sends EHLO.</summary>
    public async Task<ServerTestClient> ConnectEhloAsync(IPAddress? localAddress = null)
    {
        var client = await ConnectAsync(localAddress);
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        return client;
    }

    /// <summary>Polls (bounded) until the condition holds; for state the server changes after replying.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting until " + what);
            }

            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await Server.StopAsync(deadline.Token);
        await Server.DisposeAsync();
    }
}
