using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using SmtpAmpProxy.Access;
using SmtpAmpProxy.Tests.Support;
using NetMail = System.Net.Mail;

namespace SmtpAmpProxy.Tests.Interop;

/// <summary>
/// The .NET senders we did not write, in-process: MailKit's SmtpClient and System.Net.Mail.SmtpClient
/// (what many legacy .NET applications send with), over plain SMTP, STARTTLS and AUTH, with a
/// recipient the upstream refuses, and with an AMP message whose AMP part comes last.
/// </summary>
[Collection(nameof(ServicePointCertificateCollection))]
public sealed class DotNetSenderTests : IDisposable
{
    private const string AmpDocument = "<!doctype html><html \u26a14email><head><meta charset=\"utf-8\">"
        + "<script async src=\"https://cdn.ampproject.org/v0.js\"></script>"
        + "<style amp4email-boilerplate>body{visibility:hidden}</style></head><body>Hello AMP</body></html>";

    private readonly TempDirectory _certs = new();
    private readonly X509Certificate2 _certificate;

    public DotNetSenderTests() => _certificate = TestCertificate.WriteSelfSigned(_certs.File("tls.crt"), _certs.File("tls.key"));

    public void Dispose()
    {
        _certificate.Dispose();
        _certs.Dispose();
    }

    /// <summary>TLS with our test certificate; relay only after AUTH (no network is allowed to relay without it).</summary>
    private Dictionary<string, string> TlsAndAuth(Dictionary<string, string>? settings = null)
    {
        var values = settings ?? [];
        values["Proxy:Tls:CertificatePath"] = _certs.File("tls.crt");
        values["Proxy:Tls:KeyPath"] = _certs.File("tls.key");
        values["Proxy:Access:AllowedNetworks:0"] = "192.0.2.0/24";
        values["Proxy:Access:Users:0:Name"] = "alice";
        values["Proxy:Access:Users:0:PasswordHash"] = PasswordHash.Create("s3cret");
        return values;
    }

    /// <summary>Accepts exactly the proxy's test certificate, nothing else.</summary>
    private bool IsOurCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && certificate.GetCertHashString() == _certificate.GetCertHashString();

    private static MimeMessage MimeKitMessage(string subject, MimeEntity body)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Sender", "sender@example.com"));
        message.To.Add(new MailboxAddress("Rcpt", "rcpt@example.net"));
        message.Subject = subject;
        message.MessageId = $"{subject.Replace(' ', '-')}@example.com";
        message.Body = body;
        return message;
    }

    private static byte[] Bytes(MimeMessage message)
    {
        // What MailKit puts on the wire: CRLF line ends whatever the platform's default.
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        using var stream = new MemoryStream();
        message.WriteTo(options, stream);
        return stream.ToArray();
    }

    [Fact]
    public async Task MailKit_Plain_ArrivesAsSentAfterTheTraceField()
    {
        await using var proxy = await ProxyTestHost.StartAsync();
        var message = MimeKitMessage("mailkit plain", new TextPart("plain") { Text = "Hello from MailKit.\r\n.a line with a dot\r\n" });
        using var client = new SmtpClient();

        await client.ConnectAsync("127.0.0.1", proxy.EndPoint.Port, SecureSocketOptions.None, TestContext.Current.CancellationToken);
        var reply = await client.SendAsync(message, TestContext.Current.CancellationToken);
        await client.DisconnectAsync(quit: true, TestContext.Current.CancellationToken);

        Assert.Contains("queued as", reply, StringComparison.Ordinal);
        var relayed = await File.ReadAllBytesAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        Assert.StartsWith("Received: ", System.Text.Encoding.ASCII.GetString(relayed));
        Assert.EndsWith(Convert.ToHexString(Bytes(message)), Convert.ToHexString(relayed), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MailKit_StartTlsAndAuthPlain_IsRelayedOnlyAfterAuth()
    {
        await using var proxy = await ProxyTestHost.StartAsync(TlsAndAuth());
        using var client = new SmtpClient { ServerCertificateValidationCallback = IsOurCertificate };

        await client.ConnectAsync("127.0.0.1", proxy.EndPoint.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);
        Assert.True(client.IsSecure);
        Assert.Contains("PLAIN", client.AuthenticationMechanisms);
        var unauthenticated = await Assert.ThrowsAsync<SmtpCommandException>(() =>
            client.SendAsync(MimeKitMessage("before auth", new TextPart("plain") { Text = "no" }), TestContext.Current.CancellationToken));
        await client.AuthenticateAsync(new SaslMechanismPlain("alice", "s3cret"), TestContext.Current.CancellationToken);
        await client.SendAsync(MimeKitMessage("mailkit tls", new TextPart("plain") { Text = "Over TLS, authenticated." }), TestContext.Current.CancellationToken);
        await client.DisconnectAsync(quit: true, TestContext.Current.CancellationToken);

        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, unauthenticated.ErrorCode);
        Assert.Equal(554, (int)unauthenticated.StatusCode);
        var relayed = Assert.Single(proxy.OutboxFiles());
        Assert.Contains("Subject: mailkit tls", await File.ReadAllTextAsync(relayed, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task MailKit_RecipientRefusedUpstream_SeesThe550AndNothingIsDelivered()
    {
        using var upstream = AiosmtpdUpstream.Start("--reject-rcpt-prefix", "nobody");
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port));
        var message = MimeKitMessage("mailkit refused", new TextPart("plain") { Text = "to nobody" });
        message.To.Clear();
        message.To.Add(MailboxAddress.Parse("nobody@example.net"));
        using var client = new SmtpClient();

        await client.ConnectAsync("127.0.0.1", proxy.EndPoint.Port, SecureSocketOptions.None, TestContext.Current.CancellationToken);
        var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(message, TestContext.Current.CancellationToken));
        var next = MimeKitMessage("mailkit after refusal", new TextPart("plain") { Text = "to somebody" });
        await client.SendAsync(next, TestContext.Current.CancellationToken);
        await client.DisconnectAsync(quit: true, TestContext.Current.CancellationToken);

        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, refused.ErrorCode);
        Assert.Equal(550, (int)refused.StatusCode);
        Assert.Equal("nobody@example.net", refused.Mailbox?.Address);
        Assert.Contains("Subject: mailkit after refusal", await File.ReadAllTextAsync(Assert.Single(upstream.Messages()), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task MailKit_AmpPartLastBuiltByMimeKit_ArrivesRepairedWithEveryPartIntact()
    {
        await using var proxy = await ProxyTestHost.StartAsync();
        var plain = new TextPart("plain") { Text = "Hello in plain text." };
        var html = new TextPart("html") { Text = "<p>Hello in HTML</p>" };
        var amp = new TextPart("x-amp-html") { Text = AmpDocument };
        var message = MimeKitMessage("mailkit amp last", new MultipartAlternative { plain, html, amp });
        using var client = new SmtpClient();

        await client.ConnectAsync("127.0.0.1", proxy.EndPoint.Port, SecureSocketOptions.None, TestContext.Current.CancellationToken);
        await client.SendAsync(message, TestContext.Current.CancellationToken);
        await client.DisconnectAsync(quit: true, TestContext.Current.CancellationToken);

        var relayed = await MimeMessage.LoadAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        var alternative = Assert.IsType<MultipartAlternative>(relayed.Body);
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], alternative.Select(p => p.ContentType.MimeType));
        Assert.Equal([plain.Text, amp.Text, html.Text], alternative.Cast<TextPart>().Select(p => p.Text));
        Assert.Equal(message.Subject, relayed.Subject);
        Assert.Contains(proxy.Logs.WithEvent(3100), line => line.Field("Outcome") == "repaired" && line.Field("Actions") == "amp-after-html");
    }

    [Fact]
    public async Task SystemNetMail_Plain_IsRelayed()
    {
        await using var proxy = await ProxyTestHost.StartAsync();
        using var client = new NetMail.SmtpClient("127.0.0.1", proxy.EndPoint.Port);
        using var message = new NetMail.MailMessage("sender@example.com", "rcpt@example.net", "system.net.mail plain", "Hello from System.Net.Mail.\r\n.dot line");

        await client.SendMailAsync(message, TestContext.Current.CancellationToken);

        var relayed = await MimeMessage.LoadAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        Assert.Equal("system.net.mail plain", relayed.Subject);
        Assert.Equal("Hello from System.Net.Mail.\n.dot line", relayed.TextBody?.ReplaceLineEndings("\n").TrimEnd('\n'));
    }

    [Fact]
    public async Task SystemNetMail_StartTlsAndAuthLogin_IsRelayedOnlyAfterAuth()
    {
        await using var proxy = await ProxyTestHost.StartAsync(TlsAndAuth());
        // System.Net.Mail still takes its certificate check from ServicePointManager, obsolete for everything else.
#pragma warning disable SYSLIB0014
        var previous = ServicePointManager.ServerCertificateValidationCallback;
        ServicePointManager.ServerCertificateValidationCallback = IsOurCertificate;
#pragma warning restore SYSLIB0014
        try
        {
            using var anonymous = new NetMail.SmtpClient("127.0.0.1", proxy.EndPoint.Port) { EnableSsl = true };
            using var refusedMessage = new NetMail.MailMessage("sender@example.com", "rcpt@example.net", "before auth", "no");
            var refused = await Assert.ThrowsAnyAsync<NetMail.SmtpException>(() => anonymous.SendMailAsync(refusedMessage, TestContext.Current.CancellationToken));

            using var client = new NetMail.SmtpClient("127.0.0.1", proxy.EndPoint.Port)
            {
                EnableSsl = true,
                Credentials = new NetworkCredential("alice", "s3cret"),
            };
            using var message = new NetMail.MailMessage("sender@example.com", "rcpt@example.net", "system.net.mail tls", "Over TLS, authenticated.");
            await client.SendMailAsync(message, TestContext.Current.CancellationToken);

            Assert.Equal(NetMail.SmtpStatusCode.TransactionFailed, refused.StatusCode);
            Assert.Contains("Relay access denied", refused.Message, StringComparison.Ordinal);
            var relayed = await MimeMessage.LoadAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
            Assert.Equal("system.net.mail tls", relayed.Subject);
            Assert.Contains(proxy.Logs.Entries, e => e.Message.Contains("alice", StringComparison.Ordinal));
        }
        finally
        {
#pragma warning disable SYSLIB0014
            ServicePointManager.ServerCertificateValidationCallback = previous;
#pragma warning restore SYSLIB0014
        }
    }

    [Fact]
    public async Task SystemNetMail_RecipientRefusedUpstream_SmtpFailedRecipientExceptionWith550()
    {
        using var upstream = AiosmtpdUpstream.Start("--reject-rcpt-prefix", "nobody");
        await using var proxy = await ProxyTestHost.StartAsync(ProxyTestHost.SmtpUpstreamSettings(upstream.Port));
        using var client = new NetMail.SmtpClient("127.0.0.1", proxy.EndPoint.Port);
        using var message = new NetMail.MailMessage("sender@example.com", "nobody@example.net", "refused", "to nobody");

        var refused = await Assert.ThrowsAsync<NetMail.SmtpFailedRecipientException>(() => client.SendMailAsync(message, TestContext.Current.CancellationToken));

        Assert.Equal(NetMail.SmtpStatusCode.MailboxUnavailable, refused.StatusCode);
        Assert.Contains("nobody@example.net", refused.FailedRecipient, StringComparison.Ordinal);
        Assert.Empty(upstream.Messages());
    }

    [Fact]
    public async Task SystemNetMail_AmpAlternateViewAfterHtml_ArrivesRepaired()
    {
        await using var proxy = await ProxyTestHost.StartAsync();
        using var client = new NetMail.SmtpClient("127.0.0.1", proxy.EndPoint.Port);
        using var message = new NetMail.MailMessage("sender@example.com", "rcpt@example.net") { Subject = "system.net.mail amp" };
        message.AlternateViews.Add(NetMail.AlternateView.CreateAlternateViewFromString("Hello in plain text.", null, "text/plain"));
        message.AlternateViews.Add(NetMail.AlternateView.CreateAlternateViewFromString("<p>Hello in HTML</p>", null, "text/html"));
        message.AlternateViews.Add(NetMail.AlternateView.CreateAlternateViewFromString(AmpDocument, System.Text.Encoding.UTF8, "text/x-amp-html"));

        await client.SendMailAsync(message, TestContext.Current.CancellationToken);

        var relayed = await MimeMessage.LoadAsync(Assert.Single(proxy.OutboxFiles()), TestContext.Current.CancellationToken);
        var alternative = Assert.IsType<MultipartAlternative>(relayed.Body);
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], alternative.Select(p => p.ContentType.MimeType));
        Assert.Equal(AmpDocument, ((TextPart)alternative[1]).Text);
    }
}

/// <summary>System.Net.Mail reads its certificate check from one process-wide setting; its tests take turns.</summary>
[CollectionDefinition(nameof(ServicePointCertificateCollection), DisableParallelization = true)]
public sealed class ServicePointCertificateCollection;
