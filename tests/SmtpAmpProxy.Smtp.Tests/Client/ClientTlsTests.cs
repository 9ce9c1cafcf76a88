using System.Text;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Client;

public sealed class ClientTlsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>An upstream offering STARTTLS, then AUTH over TLS, then accepting mail.</summary>
    private static ClientScriptedServer StartTlsServer(ClientCertificates certificates, List<string> afterTls) => new(async s =>
    {
        await s.GreetAsync("PIPELINING", "STARTTLS");
        await s.ExpectAsync("STARTTLS");
        await s.SendAsync("220 2.0.0 Ready to start TLS\r\n");
        await s.UpgradeToTlsAsync(certificates.Server);
        await s.EhloAsync("PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME");
        string auth = await s.ExpectAsync("AUTH PLAIN");
        lock (afterTls)
        {
            afterTls.Add(auth);
        }

        await s.SendAsync("235 2.7.0 Accepted\r\n");
        await s.AcceptAllAsync();
    });

    [Fact]
    public async Task StartTls_ServerCertSignedByConfiguredCa_SucceedsAndAuthenticatesOverTls()
    {
        using var certificates = ClientCertificates.Create();
        var afterTls = new List<string>();
        await using ClientScriptedServer server = StartTlsServer(certificates, afterTls);
        SmtpClientOptions options = server.Options(TlsMode.StartTls) with
        {
            CaCertificatePath = certificates.CaPath,
            Username = "apikey",
            Password = "SG.key",
        };

        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, Ct);
        SmtpEnvelopeReplies envelope = await connection.SendEnvelopeAsync("a@x", null, [new("b@x")], withData: true, Ct);
        SmtpReply final = await connection.SendContentAsync([Encoding.ASCII.GetBytes("hi\r\n")], Ct);

        Assert.True(connection.IsTls);
        Assert.Contains("AUTH", connection.Extensions);
        Assert.DoesNotContain("STARTTLS", connection.Extensions);
        Assert.Equal(354, envelope.Data?.Code);
        Assert.Equal(250, final.Code);
        Assert.Single(afterTls);
    }

    [Fact]
    public async Task StartTls_CaNotConfigured_ThrowsTlsFailureAndNoCredentialsSent()
    {
        using var certificates = ClientCertificates.Create();
        var afterTls = new List<string>();
        await using ClientScriptedServer server = StartTlsServer(certificates, afterTls);
        SmtpClientOptions options = server.Options(TlsMode.StartTls) with { Username = "apikey", Password = "SG.key" };

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(options, Ct));

        Assert.Equal(SmtpFailureStage.Tls, e.Stage);
        Assert.Empty(afterTls);
    }

    [Fact]
    public async Task StartTls_CertificateForAnotherHost_ThrowsTlsFailureEvenWithTrustedCa()
    {
        using var certificates = ClientCertificates.Create(serverName: "other.example");
        var afterTls = new List<string>();
        await using ClientScriptedServer server = StartTlsServer(certificates, afterTls);
        SmtpClientOptions options = server.Options(TlsMode.StartTls) with { CaCertificatePath = certificates.CaPath, Username = "apikey", Password = "SG.key" };

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(options, Ct));

        Assert.Equal(SmtpFailureStage.Tls, e.Stage);
        Assert.Empty(afterTls);
    }

    [Fact]
    public async Task StartTls_PlaintextInjectedAfter220_ThrowsTlsFailure()
    {
        using var certificates = ClientCertificates.Create();
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("STARTTLS");
            await s.ExpectAsync("STARTTLS");

            // CVE-2011-0411 in reverse: a reply smuggled in before the handshake must not be read as a TLS reply.
            await s.SendAsync("220 Ready\r\n250-injected\r\n250 AUTH PLAIN\r\n");
            await s.WaitForCloseAsync();
        });
        SmtpClientOptions options = server.Options(TlsMode.StartTls) with { CaCertificatePath = certificates.CaPath };

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(options, Ct));

        Assert.Equal(SmtpFailureStage.Tls, e.Stage);
    }

    [Fact]
    public async Task StartTls_Refused_ThrowsTlsFailureCarryingReply()
    {
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.GreetAsync("STARTTLS");
            await s.ExpectAsync("STARTTLS");
            await s.SendAsync("454 4.7.0 TLS not available due to local problem\r\n");
            await s.WaitForCloseAsync();
        });

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(server.Options(TlsMode.StartTls), Ct));

        Assert.Equal(SmtpFailureStage.Tls, e.Stage);
        Assert.Equal(454, e.Reply?.Code);
    }

    [Fact]
    public async Task Implicit_TlsFromFirstByte_Succeeds()
    {
        using var certificates = ClientCertificates.Create();
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.UpgradeToTlsAsync(certificates.Server);
            await s.GreetAsync("PIPELINING");
            await s.AcceptAllAsync();
        });
        SmtpClientOptions options = server.Options(TlsMode.Implicit) with { CaCertificatePath = certificates.CaPath };

        await using SmtpClientConnection connection = await SmtpClientConnection.ConnectAsync(options, Ct);

        Assert.True(connection.IsTls);
        Assert.Equal(250, (await connection.NoopAsync(Ct)).Code);
    }

    [Fact]
    public async Task Implicit_UntrustedCertificate_ThrowsTlsFailure()
    {
        using var certificates = ClientCertificates.Create();
        await using var server = new ClientScriptedServer(async s =>
        {
            await s.UpgradeToTlsAsync(certificates.Server);
            await s.GreetAsync();
        });

        var e = await Assert.ThrowsAsync<SmtpConnectionException>(() => SmtpClientConnection.ConnectAsync(server.Options(TlsMode.Implicit), Ct));

        Assert.Equal(SmtpFailureStage.Tls, e.Stage);
    }
}
