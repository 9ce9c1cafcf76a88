using System.Globalization;
using System.Net;
using System.Text.Json;
using SmtpAmpProxy.Tests.Http;
using SmtpAmpProxy.Tests.Support;

namespace SmtpAmpProxy.Tests.Interop;

/// <summary>
/// What the proxy offers, as clients we did not write see it, in front of an upstream we did not write:
/// Python smtplib sending with SMTPUTF8 and asking HELP, swaks reading EHLO; aiosmtpd with and without SMTPUTF8.
/// </summary>
public sealed class PassThroughInteropTests
{
    private const string SmtplibUtf8 = """
        import smtplib, sys
        port = int(sys.argv[1])
        message = ("From: søren@example.com\r\nTo: δοκιμή@example.net\r\nSubject: utf8\r\n"
                   "Message-ID: <utf8@example.com>\r\n\r\nbody\r\n").encode()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("python.test")
            print("offered", s.has_extn("smtputf8"))
            print("help", s.help().decode().replace("\n", "|"))
            try:
                s.sendmail("søren@example.com", ["δοκιμή@example.net"], message, mail_options=["SMTPUTF8"])
                print("sent")
            except smtplib.SMTPNotSupportedError:
                print("not-supported")
                s.command_encoding = "utf-8"
                code, text = s.docmd("MAIL", "FROM:<søren@example.com> SMTPUTF8")
                print("mail", code, text.decode())
        """;

    private static async Task<ProxyTestHost> StartProxyAsync(AiosmtpdUpstream upstream)
    {
        var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port, ("Proxy:Http:Endpoint", "127.0.0.1:0")));

        // As the balancer's readiness probe does before any sender comes: the proxy learns what the upstream offers.
        Assert.Equal(HttpStatusCode.OK, (await OpsHttp.SendAsync(proxy.HttpEndPoint, "/readyz")).Status);
        return proxy;
    }

    private static string[] RunSmtplib(ProxyTestHost proxy)
    {
        var python = Peers.RequirePython();
        var result = Peers.Run(python, ["-c", SmtplibUtf8, proxy.EndPoint.Port.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        return result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public async Task Smtplib_UpstreamOffersSmtpUtf8_Utf8AddressesReachAiosmtpdWithSmtpUtf8()
    {
        using var upstream = AiosmtpdUpstream.Start();
        await using var proxy = await StartProxyAsync(upstream);

        var output = RunSmtplib(proxy);

        Assert.Equal("offered True", output[0]);
        Assert.Contains(" SMTPUTF8 ", output[1]);
        Assert.Equal("sent", output[2]);
        var stored = Assert.Single(await WaitForMessagesAsync(upstream, 1));
        using var envelope = JsonDocument.Parse(await File.ReadAllTextAsync(Path.ChangeExtension(stored, ".json"), TestContext.Current.CancellationToken));
        Assert.Equal("søren@example.com", envelope.RootElement.GetProperty("from").GetString());
        Assert.Equal(["δοκιμή@example.net"], envelope.RootElement.GetProperty("to").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("SMTPUTF8", envelope.RootElement.GetProperty("options").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Smtplib_UpstreamLacksSmtpUtf8_ClientRefusesItAndARawMailGets553_5_6_7()
    {
        using var upstream = AiosmtpdUpstream.Start("--no-smtputf8");
        await using var proxy = await StartProxyAsync(upstream);

        var output = RunSmtplib(proxy);

        Assert.Equal("offered False", output[0]);
        Assert.DoesNotContain("SMTPUTF8", output[1]);
        Assert.Equal("not-supported", output[2]);
        Assert.StartsWith("mail 553 5.6.7 ", output[3]);
        Assert.Empty(upstream.Messages());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Swaks_Ehlo_SmtpUtf8ExactlyWhenTheUpstreamOffersIt_NoStartTlsWithoutCertificate_NoAuth(bool upstreamOffers)
    {
        var swaks = Peers.RequireTool("swaks", "swaks");
        using var upstream = upstreamOffers ? AiosmtpdUpstream.Start() : AiosmtpdUpstream.Start("--no-smtputf8");
        await using var proxy = await StartProxyAsync(upstream);

        var result = Peers.Run(swaks,
        [
            "--server", $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}", "--ehlo", "swaks.test",
            "--from", "a@example.com", "--to", "b@example.net", "--quit-after", "EHLO",
        ], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 0, result.StdOut + result.StdErr);
        var ehlo = result.StdOut.Split('\n').Where(l => l.StartsWith("<-  250", StringComparison.Ordinal)).Select(l => l[8..].Trim()).ToList();
        Assert.Contains("PIPELINING", ehlo);
        Assert.Equal(upstreamOffers, ehlo.Contains("SMTPUTF8"));
        Assert.DoesNotContain("STARTTLS", ehlo);
        Assert.DoesNotContain(ehlo, l => l.StartsWith("AUTH", StringComparison.Ordinal));

        // swaks asked for TLS must find none offered, not a STARTTLS that then fails.
        var tls = Peers.Run(swaks,
        [
            "--server", $"{proxy.EndPoint.Address}:{proxy.EndPoint.Port}", "--ehlo", "swaks.test",
            "--from", "a@example.com", "--to", "b@example.net", "--tls", "--quit-after", "TLS",
        ], TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, tls.ExitCode);
        Assert.Contains("STARTTLS", tls.StdOut + tls.StdErr);
        Assert.DoesNotContain("-> STARTTLS", tls.StdOut);
    }

    private static async Task<string[]> WaitForMessagesAsync(AiosmtpdUpstream upstream, int count)
    {
        await Eventually.UntilAsync(() => upstream.Messages().Length >= count, () => $"{count} message(s) at aiosmtpd, {upstream.Messages().Length} there");
        return upstream.Messages();
    }
}
