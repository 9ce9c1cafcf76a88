using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Hosting;

/// <summary>SIGTERM on the real process: stop accepting, finish what is in flight, 421 to the idle, exit 0.</summary>
public sealed class GracefulShutdownTests
{
    [Fact]
    public async Task SigTerm_FinishesInFlightMessage_Answers421ToIdleSession_ExitsZero()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("signals are tested on Linux");
        }

        using var directory = new TempDirectory();
        var outbox = Path.Combine(directory.Path, "outbox");
        using var process = ProxyProcess.Start(
        [
            "--Proxy:Upstream:Mode=Directory", $"--Proxy:Upstream:Directory={outbox}",
            "--Proxy:Listen:0:Endpoint=127.0.0.1:0", "--Proxy:Http:Endpoint=", "--Logging:LogLevel:Default=Information",
        ]);
        try
        {
            var endPoint = await ProxyLogLines.Follow(process).ListeningAsync();

            var (idle, _) = await RawSmtpClient.ConnectAsync(endPoint);
            var (busy, _) = await RawSmtpClient.ConnectAsync(endPoint);
            await using (idle)
            await using (busy)
            {
                Assert.StartsWith("250", await idle.CommandAsync("EHLO idle.test"));
                Assert.StartsWith("250", await busy.CommandAsync("EHLO busy.test"));
                Assert.StartsWith("250", await busy.CommandAsync("MAIL FROM:<a@example.com>"));
                Assert.StartsWith("250", await busy.CommandAsync("RCPT TO:<b@example.net>"));
                Assert.StartsWith("354", await busy.CommandAsync("DATA"));
                await busy.SendAsync(TestMessages.DotStuff(TestMessages.PlainText("in-flight")));

                Assert.Equal(0, Signals.Send(process.Id, Signals.Term));

                // The idle session is told why it is being closed.
                Assert.StartsWith("421 4.3.2", await idle.ReadReplyAsync());

                // The transaction in flight completes and is relayed.
                await busy.SendAsync("\r\n.\r\n"u8.ToArray());
                Assert.StartsWith("250", await busy.ReadReplyAsync());
            }

            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the proxy did not exit after SIGTERM");
            Assert.Equal(0, process.ExitCode);
            Assert.Single(Directory.GetFiles(outbox, "*.eml"));
        }
        finally
        {
            Peers.Stop(process);
        }
    }
}
