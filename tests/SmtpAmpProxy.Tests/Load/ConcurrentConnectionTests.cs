using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SmtpAmpProxy.Hosting;
using SmtpAmpProxy.Tests.Security;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Load;

/// <summary>A thousand senders at once, all held open, every one served; bounded and on loopback only.</summary>
public sealed class ConcurrentConnectionTests
{
    private const int Connections = 1000;
    private const int SourceAddresses = 10;
    private const int PerAddress = Connections / SourceAddresses;

    /// <summary>The proxy and the test each hold one descriptor per connection, plus what the runtime needs.</summary>
    private const int DescriptorsNeeded = 2 * Connections + 200;

    [Fact]
    public async Task ThousandConcurrentConnections_AllHeldOpen_EachServed()
    {
        var limit = OpenFileLimit();
        if (limit is { } soft && soft < DescriptorsNeeded)
        {
            Assert.Skip($"the open-file limit is {soft}, below the {DescriptorsNeeded} this test needs (raise it with ulimit -n)");
        }

        await using var proxy = await ProxyTestHost.StartAsync(new Dictionary<string, string>
        {
            ["Proxy:Limits:MaxConnections"] = (Connections + 100).ToString(CultureInfo.InvariantCulture),
            ["Proxy:Limits:MaxConnectionsPerIp"] = PerAddress.ToString(CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        });
        var service = proxy.Services.GetRequiredService<SmtpProxyService>();
        var clients = new BoundSmtpClient[Connections];
        try
        {
            // Opened in waves of 50 so the listen backlog never overflows; each from 127.0.0.(1+i%10).
            for (var wave = 0; wave < Connections; wave += 50)
            {
                await Task.WhenAll(Enumerable.Range(wave, 50).Select(async i =>
                {
                    var (client, greeting) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, Source(i));
                    clients[i] = client;
                    Assert.StartsWith("220", greeting);
                }));
            }

            Assert.Equal(Connections, service.ActiveSessions);

            // Every address is at its per-IP limit now: one more from any of them is refused.
            var (extra, refusal) = await BoundSmtpClient.ConnectAsync(proxy.EndPoint, Source(0));
            await using (extra)
            {
                Assert.StartsWith("421 4.7.0", refusal);
            }

            // All at once: EHLO, then a message from every tenth, a NOOP from the rest, then QUIT.
            await Task.WhenAll(Enumerable.Range(0, Connections).Select(async i =>
            {
                var client = clients[i];
                Assert.StartsWith("250", await client.CommandAsync($"EHLO load-{i}.test"));
                if (i % 10 == 0)
                {
                    Assert.StartsWith("250", await client.CommandAsync("MAIL FROM:<sender@example.com>"));
                    Assert.StartsWith("250", await client.CommandAsync("RCPT TO:<rcpt@example.net>"));
                    Assert.StartsWith("354", await client.CommandAsync("DATA"));
                    await client.SendAsync(TestMessages.DotStuff(TestMessages.PlainText($"load-{i}")));
                    Assert.StartsWith("250", await client.CommandAsync("\r\n."));
                }
                else
                {
                    Assert.StartsWith("250", await client.CommandAsync("NOOP"));
                }

                Assert.StartsWith("221", await client.CommandAsync("QUIT"));
            }));

            Assert.Equal(Connections / 10, proxy.OutboxFiles().Length);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (service.ActiveSessions > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }

            Assert.Equal(0, service.ActiveSessions);
        }
        finally
        {
            foreach (var client in clients.Where(c => c is not null))
            {
                await client.DisposeAsync();
            }
        }
    }

    private static IPAddress Source(int i) => new([127, 0, 0, (byte)(1 + (i % SourceAddresses))]);

    /// <summary>The soft RLIMIT_NOFILE from /proc (Linux); null where it cannot be read.</summary>
    private static long? OpenFileLimit()
    {
        const string Limits = "/proc/self/limits";
        if (!File.Exists(Limits))
        {
            return null;
        }

        var line = File.ReadLines(Limits).FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var fields = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is { Length: > 0 } && long.TryParse(fields[0], CultureInfo.InvariantCulture, out var soft) ? soft : null;
    }
}
