using System.Globalization;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Interop;

/// <summary>Senders we did not write, into the proxy: swaks, Python smtplib, Postfix's smtp-source.</summary>
public sealed class SenderInteropTests
{
    [Fact]
    public async Task Swaks_PipelinedMisorderedAmp_ArrivesRepaired()
    {
        var swaks = Peers.RequireTool("swaks", "swaks");
        await using var proxy = await ProxyTestHost.StartAsync();
        using var directory = new TempDirectory();
        var path = directory.File("message.eml");
        await File.WriteAllBytesAsync(path, TestMessages.Alternative("swaks", TestMessages.Html, TestMessages.Amp), TestContext.Current.CancellationToken);

        var result = Peers.Run(swaks,
        [
            "--server", $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}", "--pipeline",
            "--from", "sender@example.com", "--to", "rcpt@example.net", "--data", path, "--helo", "swaks.test",
        ], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        var summary = PythonMime.Summarise(Assert.Single(proxy.OutboxFiles()));
        Assert.Equal([TestMessages.Amp, TestMessages.Html], Assert.Single(summary.Alternatives));
    }

    [Fact]
    public async Task Swaks_MisplacedAmp_Sees554WithTheCode()
    {
        var swaks = Peers.RequireTool("swaks", "swaks");
        await using var proxy = await ProxyTestHost.StartAsync();
        using var directory = new TempDirectory();
        var path = directory.File("message.eml");
        await File.WriteAllBytesAsync(path, TestMessages.MisplacedAmp("swaks-bad"), TestContext.Current.CancellationToken);

        var result = Peers.Run(swaks,
            ["--server", $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}", "--from", "s@example.com", "--to", "r@example.net", "--data", path],
            TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("554 5.6.0 amp-misplaced", result.StdOut);
        Assert.Empty(proxy.OutboxFiles());
    }

    [Fact]
    public async Task Smtplib_MultipleRecipients_OneFileWithTraceField()
    {
        await using var proxy = await ProxyTestHost.StartAsync();

        var outcome = PythonSmtp.Send(proxy.EndPoint, "sender@example.com", ["a@example.net", "b@example.net"], TestMessages.PlainText("smtplib"));

        Assert.True(outcome.Ok);
        var text = await File.ReadAllTextAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        Assert.StartsWith("Received: from sender.test", text);
        Assert.DoesNotContain("for <", text[..text.IndexOf("Message-ID", StringComparison.Ordinal)]);
    }

    [Fact]
    public async Task SmtpSource_ManySessions_EveryMessageArrives()
    {
        var smtpSource = Peers.RequireTool("smtp-source", "postfix");
        await using var proxy = await ProxyTestHost.StartAsync();
        const int Messages = 40;

        var result = Peers.Run(smtpSource,
        [
            "-s", "4", "-m", Messages.ToString(CultureInfo.InvariantCulture), "-l", "2048", "-f", "sender@example.com", "-t", "rcpt@example.net",
            $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}",
        ], TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        Assert.Equal(Messages, proxy.OutboxFiles().Length);
        Assert.All(proxy.Logs.WithEvent(3100), line => Assert.Equal("relayed", line.Field("Outcome")));
    }
}
