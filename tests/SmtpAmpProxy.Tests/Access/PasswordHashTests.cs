using System.Net;
using SmtpAmpProxy.Access;
using SmtpAmpProxy.Cli;
using SmtpAmpProxy.Configuration;

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
        var authenticator = new ConfiguredAuthenticator(new AccessOptions
        {
            Users = [new UserOptions { Name = "app", PasswordHash = PasswordHash.Create("pw", 1000) }],
        });

        Assert.Equal("app", await authenticator.AuthenticateAsync("app", "pw", IPAddress.Loopback, TestContext.Current.CancellationToken));
        Assert.Null(await authenticator.AuthenticateAsync("app", "wrong", IPAddress.Loopback, TestContext.Current.CancellationToken));
        Assert.Null(await authenticator.AuthenticateAsync("other", "pw", IPAddress.Loopback, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Authenticator_AcceptAnyAuth_OnlyFromAllowedNetworks()
    {
        var authenticator = new ConfiguredAuthenticator(new AccessOptions { AcceptAnyAuth = true, AllowedNetworks = ["10.0.0.0/8"] });

        Assert.Equal("legacy", await authenticator.AuthenticateAsync("legacy", "whatever", IPAddress.Parse("10.1.2.3"), TestContext.Current.CancellationToken));
        Assert.Null(await authenticator.AuthenticateAsync("legacy", "whatever", IPAddress.Parse("192.0.2.1"), TestContext.Current.CancellationToken));
    }
}
