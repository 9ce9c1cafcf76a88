using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

public sealed class SmtpServerTlsAuthTests
{
    private static SmtpServerOptions WithTls(SmtpServerOptions o) => o with
    {
        Certificate = ServerTestCertificate.Instance,
        Authenticator = new ServerTestAuthenticator("alice", "s3cret"),
    };

    [Fact]
    public async Task StartTls_Handshake_ResetsHeloAndOffersAuthAfterwards()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("220 2.0.0 Ready to start TLS", await client.CommandAsync("STARTTLS"));
        await client.StartTlsAsync();
        Assert.Equal("503 5.5.1 Error: send HELO/EHLO first", await client.CommandAsync("MAIL FROM:<s@b.test>"));
        var ehlo = await client.CommandAsync("EHLO client.test");
        Assert.DoesNotContain("STARTTLS", ehlo);
        Assert.EndsWith("250 AUTH PLAIN LOGIN", ehlo);
        Assert.True(host.Handlers.Sessions.Single().IsTls);
        Assert.Equal("554 5.5.1 Error: TLS already active", await client.CommandAsync("STARTTLS"));
    }

    [Fact]
    public async Task Help_BeforeTls_ListsStartTlsNotAuth()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal(HelpListing(" STARTTLS"), await client.CommandAsync("HELP"));
    }

    [Fact]
    public async Task Help_AfterTls_ListsAuthNotStartTls_AndAfterLoginNeither()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        Assert.Equal(HelpListing(" AUTH"), await client.CommandAsync("HELP"));
        Assert.StartsWith("235", await client.CommandAsync("AUTH PLAIN " + Plain("", "alice", "s3cret")));
        Assert.Equal(HelpListing(""), await client.CommandAsync("HELP"));
    }

    /// <summary>HELP's reply: the command and the extension named by <paramref name="offered"/> on both lines, or neither.</summary>
    private static string HelpListing(string offered) =>
        $"214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP{offered}\n" +
        $"214 2.0.0 Extensions: PIPELINING SIZE 8BITMIME SMTPUTF8 ENHANCEDSTATUSCODES{offered}";

    [Fact]
    public async Task StartTls_PlaintextSentAfterCommand_IsDiscarded()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await host.ConnectEhloAsync();
        // CVE-2011-0411: a man in the middle appends commands to the plaintext STARTTLS.
        await client.SendAsync("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<x@b.test>\r\n");
        Assert.Equal("220 2.0.0 Ready to start TLS", await client.ReadReplyAsync());
        Assert.Equal(0, client.BufferedBytes);
        await client.StartTlsAsync();
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        Assert.Equal("503 5.5.1 Error: need MAIL command", await client.CommandAsync("RCPT TO:<x@b.test>"));
        Assert.Empty(host.Handlers.Calls);
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1022);
    }

    [Fact]
    public async Task StartTls_WithArgument_Replies501()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("501 5.5.4 Syntax: STARTTLS", await client.CommandAsync("STARTTLS now"));
    }

    [Fact]
    public async Task StartTls_InTransaction_Replies503()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        Assert.Equal("503 5.5.1 Error: MAIL transaction in progress", await client.CommandAsync("STARTTLS"));
    }

    [Fact]
    public async Task StartTls_ClientSendsGarbageInsteadOfHandshake_SessionEndsAndIsLogged()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await host.ConnectEhloAsync();
        Assert.StartsWith("220", await client.CommandAsync("STARTTLS"));
        await client.SendAsync("this is not a TLS ClientHello\r\n\r\n\r\n\r\n\r\n\r\n");
        Assert.True(await client.WaitClosedAsync());
        await ServerTestHost.WaitUntilAsync(() => host.Logs.Entries.Any(e => e.EventId == 1020), "the TLS failure is logged");
    }

    [Fact]
    public async Task ImplicitTls_Listener_GreetsInsideTls()
    {
        await using var host = await ServerTestHost.StartAsync(o => WithTls(o) with
        {
            Listeners = [new SmtpListenerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Tls = TlsMode.Implicit }],
        });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(host.EndPoint, TestContext.Current.CancellationToken);
        await using var tls = new SslStream(new NetworkStream(socket), leaveInnerStreamOpen: false);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }, TestContext.Current.CancellationToken);
        var buffer = new byte[256];
        var read = await tls.ReadAsync(buffer, TestContext.Current.CancellationToken);
        Assert.Equal("220 test.local ESMTP\r\n", Encoding.ASCII.GetString(buffer, 0, read));
    }

    [Fact]
    public async Task Start_ImplicitTlsWithoutCertificate_Throws()
    {
        var options = ServerTestHost.DefaultOptions() with
        {
            Listeners = [new SmtpListenerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Tls = TlsMode.Implicit }],
        };
        await using var server = new SmtpServer(options, new ServerTestHandlerFactory(), new ServerTestLoggerProvider());
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("certificate", error.Message);
    }

    [Fact]
    public async Task AuthPlain_InitialResponse_Authenticates()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        Assert.Equal("235 2.7.0 Authentication successful", await client.CommandAsync("AUTH PLAIN " + Plain("", "alice", "s3cret")));
        Assert.Equal("alice", host.Handlers.Sessions.Single().AuthenticatedUser);
        Assert.Equal("503 5.5.1 Error: already authenticated", await client.CommandAsync("AUTH PLAIN " + Plain("", "alice", "s3cret")));
    }

    [Fact]
    public async Task AuthPlain_Challenge_Authenticates()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        Assert.Equal("334 ", await client.CommandAsync("AUTH PLAIN"));
        Assert.Equal("235 2.7.0 Authentication successful", await client.CommandAsync(Plain("alice", "alice", "s3cret")));
    }

    [Fact]
    public async Task AuthPlain_WrongPassword_Replies535AndNeverLogsPassword()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        Assert.Equal("535 5.7.8 Error: authentication failed", await client.CommandAsync("AUTH PLAIN " + Plain("", "alice", "wrong-pw")));
        Assert.Null(host.Handlers.Sessions.Single().AuthenticatedUser);
        Assert.Contains(host.Logs.Entries, e => e.EventId == 1041);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains("wrong-pw", StringComparison.Ordinal) || e.Message.Contains(Plain("", "alice", "wrong-pw"), StringComparison.Ordinal));
    }

    [Fact]
    public async Task AuthPlain_OtherAuthorizationIdentity_Replies535()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        Assert.Equal("535 5.7.8 Error: authentication failed", await client.CommandAsync("AUTH PLAIN " + Plain("bob", "alice", "s3cret")));
    }

    [Fact]
    public async Task AuthLogin_Challenges_Authenticate()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        Assert.Equal("334 VXNlcm5hbWU6", await client.CommandAsync("AUTH LOGIN"));
        Assert.Equal("334 UGFzc3dvcmQ6", await client.CommandAsync(B64("alice")));
        Assert.Equal("235 2.7.0 Authentication successful", await client.CommandAsync(B64("s3cret")));
    }

    [Fact]
    public async Task AuthLogin_InitialUser_AsksForPasswordOnly()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        Assert.Equal("334 UGFzc3dvcmQ6", await client.CommandAsync("AUTH LOGIN " + B64("alice")));
        Assert.Equal("535 5.7.8 Error: authentication failed", await client.CommandAsync(B64("nope")));
    }

    [Theory]
    [InlineData("*", "501 5.7.0 Authentication aborted")]
    [InlineData("!!notbase64", "501 5.5.2 Cannot decode response")]
    public async Task AuthLogin_AbortOrGarbage_Replies501(string response, string expected)
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        await client.CommandAsync("AUTH LOGIN");
        Assert.Equal(expected, await client.CommandAsync(response));
        Assert.Equal("250 2.0.0 Ok", await client.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Auth_UnknownMechanism_Replies504()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await TlsEhloAsync(host);
        Assert.Equal("504 5.5.4 Unsupported authentication mechanism", await client.CommandAsync("AUTH CRAM-MD5"));
    }

    [Fact]
    public async Task Auth_OverPlaintext_IsNotEnabled()
    {
        await using var host = await ServerTestHost.StartAsync(WithTls);
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("503 5.5.1 Error: authentication not enabled", await client.CommandAsync("AUTH PLAIN " + Plain("", "alice", "s3cret")));
        Assert.Empty(((ServerTestAuthenticator)host.Options.Authenticator!).Attempts);
    }

    [Fact]
    public async Task Auth_AllowedWithoutTls_WorksOverPlaintext()
    {
        await using var host = await ServerTestHost.StartAsync(o => WithTls(o) with { AllowAuthWithoutTls = true });
        await using var client = await host.ConnectEhloAsync();
        Assert.Equal("235 2.7.0 Authentication successful", await client.CommandAsync("AUTH PLAIN " + Plain("", "alice", "s3cret")));
    }

    [Fact]
    public async Task Auth_Authenticated_MayRelayFromOutsideAllowedNetworks()
    {
        await using var host = await ServerTestHost.StartAsync(o => WithTls(o) with { AllowAuthWithoutTls = true, Access = o.Access with { AllowedNetworks = [] } });
        await using var client = await host.ConnectEhloAsync();
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        Assert.StartsWith("554 5.7.1", await client.CommandAsync("RCPT TO:<a@b.test>"));
        await client.CommandAsync("RSET");
        Assert.StartsWith("235", await client.CommandAsync("AUTH PLAIN " + Plain("", "alice", "s3cret")));
        await client.CommandAsync("MAIL FROM:<s@b.test>");
        Assert.Equal("250 2.1.5 Ok", await client.CommandAsync("RCPT TO:<a@b.test>"));
    }

    [Fact]
    public async Task StartTls_AfterAuthOverPlaintext_ForgetsAuthentication()
    {
        await using var host = await ServerTestHost.StartAsync(o => WithTls(o) with { AllowAuthWithoutTls = true, Access = o.Access with { RequireAuth = true } });
        await using var client = await host.ConnectEhloAsync();
        Assert.StartsWith("235", await client.CommandAsync("AUTH PLAIN " + Plain("", "alice", "s3cret")));
        Assert.StartsWith("220", await client.CommandAsync("STARTTLS"));
        await client.StartTlsAsync();
        await client.CommandAsync("EHLO client.test");
        Assert.Equal("530 5.7.0 Authentication required", await client.CommandAsync("MAIL FROM:<s@b.test>"));
    }

    private static async Task<ServerTestClient> TlsEhloAsync(ServerTestHost host)
    {
        var client = await host.ConnectEhloAsync();
        Assert.StartsWith("220", await client.CommandAsync("STARTTLS"));
        await client.StartTlsAsync();
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.test"));
        return client;
    }

    private static string Plain(string authz, string user, string password) => B64($"{authz}\0{user}\0{password}");

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}
