using System.Net;
using SmtpAmpProxy.Access;
using SmtpAmpProxy.Cli;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Smtp;

namespace SmtpAmpProxy.Tests.Access;

public sealed class PasswordHashTests
{
    [Fact]
    public void Create_ThenVerify_AcceptsOnlyTheSamePassword()
    {
        var hash = PasswordHash.Create("correct horse", iterations: 1000);

        Assert.True(PasswordHash.Verify("correct horse", hash));
        Assert.False(PasswordHash.Verify("correct horsf", hash));
        Assert.False(PasswordHash.Verify("", hash));
    }

    [Fact]
    public void Create_SamePasswordTwice_GivesDifferentSalts()
    {
        Assert.NotEqual(PasswordHash.Create("pw", 1000), PasswordHash.Create("pw", 1000));
    }

    [Theory]
    [InlineData("")]
    [InlineData("plaintext")]
    [InlineData("pbkdf2-sha256$10$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==")]
    [InlineData("pbkdf2-sha256$100000$not-base64$AAAA")]
    [InlineData("md5$100000$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==")]
    public void Malformed_NeverVerifies(string encoded)
    {
        Assert.False(PasswordHash.IsWellFormed(encoded));
        Assert.False(PasswordHash.Verify("anything", encoded));
    }

    [Fact]
    public async Task HashPasswordCommand_PrintsAVerifiableHash()
    {
        var stdout = new StringWriter();

        var exit = await HashPasswordCommand.RunAsync(new StringReader("s3cret\n"), stdout, TextWriter.Null);

        Assert.Equal(0, exit);
        Assert.True(PasswordHash.Verify("s3cret", stdout.ToString().Trim()));
    }

    [Fact]
    public async Task HashPasswordCommand_EmptyInput_ExitsTwo()
    {
        var stderr = new StringWriter();

        Assert.Equal(2, await HashPasswordCommand.RunAsync(new StringReader(""), TextWriter.Null, stderr));
        Assert.Contains("standard input", stderr.ToString());
    }

    [Fact]
    public async Task Authenticator_ConfiguredUser_NeedsTheRightPassword()
    {
        var access = new AccessOptions { Users = [new UserOptions { Name = "app", PasswordHash = PasswordHash.Create("pw", 1000) }] };
        var authenticator = new ConfiguredAuthenticator(access, RelayAccessPolicies.FromOptions(new ProxyOptions { Access = access }));
        var session = Session("127.0.0.1", relayByNetwork: true);

        Assert.Equal("app", await authenticator.AuthenticateAsync("app", "pw", session, TestContext.Current.CancellationToken));
        Assert.Null(await authenticator.AuthenticateAsync("app", "wrong", session, TestContext.Current.CancellationToken));
        Assert.Null(await authenticator.AuthenticateAsync("other", "pw", session, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Authenticator_AcceptAnyAuth_OnlyFromAllowedNetworks()
    {
        var access = new AccessOptions { AcceptAnyAuth = true, AllowedNetworks = ["10.0.0.0/8"] };
        var policy = RelayAccessPolicies.FromOptions(new ProxyOptions { Access = access });
        var authenticator = new ConfiguredAuthenticator(access, policy);

        Assert.Equal("legacy", await authenticator.AuthenticateAsync("legacy", "whatever",
            Session("10.1.2.3", policy.ClientRelaysByNetwork(IPAddress.Parse("10.1.2.3"), clientAddressUnknown: false)), TestContext.Current.CancellationToken));
        Assert.Null(await authenticator.AuthenticateAsync("legacy", "whatever",
            Session("192.0.2.1", policy.ClientRelaysByNetwork(IPAddress.Parse("192.0.2.1"), clientAddressUnknown: false)), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Authenticator_AcceptAnyAuth_ClientAddressUnknownBehindAllowedBalancer_Refused()
    {
        var access = new AccessOptions { AcceptAnyAuth = true, AllowedNetworks = ["10.0.0.0/8"] };
        var policy = RelayAccessPolicies.FromOptions(new ProxyOptions { Access = access });
        var authenticator = new ConfiguredAuthenticator(access, policy);
        var balancer = IPAddress.Parse("10.0.0.7");

        Assert.Null(await authenticator.AuthenticateAsync("legacy", "whatever",
            Session("10.0.0.7", policy.ClientRelaysByNetwork(balancer, clientAddressUnknown: true)), TestContext.Current.CancellationToken));
    }

    private static SmtpSessionInfo Session(string address, bool relayByNetwork) =>
        new(1, new IPEndPoint(IPAddress.Parse(address), 40000), new IPEndPoint(IPAddress.Loopback, 2525)) { RelayByNetwork = relayByNetwork };
}
