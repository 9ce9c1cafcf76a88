using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Security;

/// <summary>
/// Seeded random sessions through the whole appliance (server, relay handler, MIME parser, AMP rules, writer):
/// pipelined transactions whose DATA is random, often broken, MIME with AMP parts, mixed with protocol noise.
/// Nothing may log an error or leave a session behind, and a normal message still goes through afterwards.
/// </summary>
public sealed class ProxyFuzzTests
{
    private const int Sessions = 96;
    private const int Parallel = 8;

    private static readonly string[] Types =
    [
        "text/plain", "text/html", "text/x-amp-html", "text/x-amp-html; charset=utf-8", "multipart/alternative",
        "multipart/mixed", "multipart/related", "multipart/signed", "message/rfc822", "TEXT/X-AMP-HTML", "text/x-amp-html;",
        "multipart/alternative; boundary=", "multipart/alternative; boundary*0=\"a\"; boundary*1=\"b\"", "application/pkcs7-mime",
    ];

    private static readonly string[] Noise =
    [
        "NOOP", "RSET", "HELP", "VRFY x", "EHLO again.test", "MAIL FROM:<bad", "RCPT TO:<>", "DATA", "AUTH PLAIN =",
        "\u0000\u0001\u0002", new string('Z', 3000), "BDAT 10 LAST", "mail from:<lower@example.com>",
    ];

    [Fact]
    public async Task RandomMimeAndCommands_ThroughTheProxy_NoErrorAndStillRelays()
    {
        const int Seed = 7_2026;
        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Limits:MaxMessageBytes"] = "200000",
            ["Proxy:Limits:MaxHeaderBytes"] = "16384",
            ["Proxy:Limits:MaxMimeDepth"] = "6",
            ["Proxy:Limits:MaxMimeParts"] = "40",
            ["Proxy:Limits:MaxErrorsPerSession"] = "1000",
        });
        var seeds = new Random(Seed);
        var sessionSeeds = Enumerable.Range(0, Sessions).Select(_ => seeds.Next()).ToArray();

        for (var start = 0; start < Sessions; start += Parallel)
        {
            await Task.WhenAll(sessionSeeds.Skip(start).Take(Parallel).Select(seed => FuzzSessionAsync(proxy, seed)));
        }

        var service = proxy.Services.GetRequiredService<SmtpProxyService>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (service.ActiveSessions > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.Equal(0, service.ActiveSessions);
        Assert.DoesNotContain(proxy.Logs.Entries, e => e.Level >= LogLevel.Error);
        var outcomes = proxy.Logs.WithEvent(3100).Select(l => l.Field("Outcome")).ToHashSet();
        Assert.Contains("relayed", outcomes);
        Assert.Contains("rejected", outcomes);

        var before = proxy.OutboxFiles().Length;
        var (client, _) = await RawSmtpClient.ConnectAsync(proxy.EndPoint);
        await using (client)
        {
            var message = TestMessages.Alternative("after-fuzz", TestMessages.Html, TestMessages.Amp);
            Assert.StartsWith("250", await client.SendMessageAsync("sender@example.com", ["rcpt@example.net"], TestMessages.DotStuff(message)));
        }

        Assert.Equal(before + 1, proxy.OutboxFiles().Length);
    }

    private static async Task FuzzSessionAsync(ProxyTestHost proxy, int seed)
    {
        var random = new Random(seed);
        using var socket = new Socket(proxy.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(proxy.EndPoint, deadline.Token);
        var drain = DrainAsync(socket, deadline.Token);
        try
        {
            var script = Encoding.UTF8.GetBytes(Script(random));
            for (var at = 0; at < script.Length;)
            {
                var size = Math.Min(random.Next(3) == 0 ? random.Next(1, 8) : random.Next(1, 4096), script.Length - at);
                await socket.SendAsync(script.AsMemory(at, size), deadline.Token);
                at += size;
            }

            await socket.SendAsync("\r\n.\r\nQUIT\r\n"u8.ToArray(), deadline.Token);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The proxy closed first (QUIT inside the script, or a 421).
        }

        Assert.True(await drain, $"session with seed {seed} was still open after 30 s");
    }

    private static async Task<bool> DrainAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[8192];
        try
        {
            while (await socket.ReceiveAsync(buffer, ct) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static string Script(Random random)
    {
        var text = new StringBuilder("EHLO fuzz.test\r\n");
        for (var transaction = random.Next(1, 5); transaction > 0; transaction--)
        {
            if (random.Next(3) == 0)
            {
                text.Append(Noise[random.Next(Noise.Length)]).Append("\r\n");
            }

            text.Append("MAIL FROM:<sender@example.com>\r\nRCPT TO:<rcpt@example.net>\r\nDATA\r\n");
            var body = $"From: sender@example.com\r\nMessage-ID: <fuzz-{random.Next()}@example.com>\r\nMIME-Version: 1.0\r\n" + Entity(random, 0);
            text.Append(body.Replace("\r\n.", "\r\n..", StringComparison.Ordinal)).Append("\r\n.\r\n");
        }

        return text.ToString();
    }

    /// <summary>A random MIME entity: plausible enough to reach the AMP rules, broken often enough to stress the parser.</summary>
    private static string Entity(Random random, int depth)
    {
        var type = Types[random.Next(Types.Length)];
        var multipart = type.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) && depth < 8;
        var boundary = $"b{depth}{(char)random.Next('a', 'z' + 1)}";
        var builder = new StringBuilder();
        builder.Append("Content-Type: ").Append(type);
        if (multipart && !type.Contains("boundary", StringComparison.Ordinal))
        {
            builder.Append("; boundary=\"").Append(boundary).Append('"');
        }

        builder.Append(random.Next(6) == 0 ? "\n" : "\r\n");
        if (random.Next(5) == 0)
        {
            builder.Append("Content-Transfer-Encoding: ").Append(random.Next(2) == 0 ? "base64" : "quoted-printable").Append("\r\n");
        }

        builder.Append("\r\n");
        if (!multipart)
        {
            builder.Append(random.Next(4) == 0 ? "<html \u26a14email><body>amp</body></html>" : "body text").Append("\r\n");
            if (random.Next(8) == 0)
            {
                builder.Append(".\r\n..\r\n.hidden\r\n");
            }

            return builder.ToString();
        }

        for (var child = random.Next(0, 5); child > 0; child--)
        {
            builder.Append("--").Append(random.Next(10) == 0 ? "wrong" : boundary).Append("\r\n").Append(Entity(random, depth + 1));
        }

        if (random.Next(5) != 0)
        {
            builder.Append("--").Append(boundary).Append("--\r\n");
        }

        return builder.ToString();
    }
}
