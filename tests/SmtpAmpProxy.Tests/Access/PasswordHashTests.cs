using System.Net;
using SmtpAmpProxy.Access;
using SmtpAmpProxy.Cli;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Smtp.Server;

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

    [Fact]
    public void Create_Default_UsesAtLeastOwaspsPbkdf2Sha256IterationCount()
    {
        var hash = PasswordHash.Create("pw");
        Assert.True(PasswordHash.IterationsOf(hash) >= 600_000, hash);
        Assert.True(PasswordHash.Verify("pw", hash));
    }

    [Fact]
    public void Verify_HashMadeWithTheOldHundredThousandIterations_StillVerifies()
    {
        var old = PasswordHash.Create("legacy-pw", 100_000);
        Assert.Equal(100_000, PasswordHash.IterationsOf(old));
        Assert.True(PasswordHash.Verify("legacy-pw", old));
        Assert.False(PasswordHash.Verify("other", old));
    }

    [Fact]
    public async Task Authenticator_UnknownUser_CostsOneHashCheckWithTheKnownUsersParameters()
    {
        var checks = new List<string>();
        var authenticator = new ConfiguredAuthenticator(
            new AccessOptions { Users = [new UserOptions { Name = "app", PasswordHash = PasswordHash.Create("pw", 1000) }] },
            RelayAccessPolicies.FromOptions(new ProxyOptions()),
            (password, hash) =>
            {
                checks.Add(hash);
                return PasswordHash.Verify(password, hash);
            });
        var ct = TestContext.Current.CancellationToken;

        Assert.Null(await authenticator.AuthenticateAsync("app", "wrong", Session("127.0.0.1", relayByNetwork: true), ct));
        Assert.Null(await authenticator.AuthenticateAsync("nobody", "wrong", Session("127.0.0.1", relayByNetwork: true), ct));
        Assert.Null(await authenticator.AuthenticateAsync("nobody", "pw", Session("127.0.0.1", relayByNetwork: true), ct));

        // One computation each, with the same iteration count, salt size and key size: the same cost.
        Assert.Equal(3, checks.Count);
        var known = checks[0].Split('$');
        foreach (var unknown in checks.Skip(1).Select(h => h.Split('$')))
        {
            Assert.Equal(known[0], unknown[0]);
            Assert.Equal(known[1], unknown[1]);
            Assert.Equal(Convert.FromBase64String(known[2]).Length, Convert.FromBase64String(unknown[2]).Length);
            Assert.Equal(Convert.FromBase64String(known[3]).Length, Convert.FromBase64String(unknown[3]).Length);
        }
    }

    [Fact]
    public void Authenticator_UsersWithMixedIterationCounts_DummyCostsTheHighest()
    {
        var access = new AccessOptions
        {
            Users =
            [
                new UserOptions { Name = "old", PasswordHash = PasswordHash.Create("a", 1000) },
                new UserOptions { Name = "new", PasswordHash = PasswordHash.Create("b", 2000) },
            ],
        };
        var authenticator = new ConfiguredAuthenticator(access, RelayAccessPolicies.FromOptions(new ProxyOptions { Access = access }));
        Assert.Equal(2000, PasswordHash.IterationsOf(authenticator.DummyHash));
    }

    [Fact]
    public void Authenticator_NoUsers_DummyCostsTheDefault()
    {
        var access = new AccessOptions { AcceptAnyAuth = true };
        var authenticator = new ConfiguredAuthenticator(access, RelayAccessPolicies.FromOptions(new ProxyOptions { Access = access }));
        Assert.Equal(PasswordHash.DefaultIterations, PasswordHash.IterationsOf(authenticator.DummyHash));
    }
}
