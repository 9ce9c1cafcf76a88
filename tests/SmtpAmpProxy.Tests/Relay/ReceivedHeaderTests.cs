using System.Net;
using System.Text;
using SmtpAmpProxy.Relay;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Tests.Relay;

/// <summary>The WITH clause: RFC 3848 names, and RFC 6531 section 4.3's when the transaction used SMTPUTF8.</summary>
public sealed class ReceivedHeaderTests
{
    [Theory]
    [InlineData(false, false, false, "ESMTP")]
    [InlineData(true, false, false, "ESMTPS")]
    [InlineData(true, true, false, "ESMTPSA")]
    [InlineData(false, true, false, "ESMTPA")]
    [InlineData(false, false, true, "UTF8SMTP")]
    [InlineData(true, false, true, "UTF8SMTPS")]
    [InlineData(false, true, true, "UTF8SMTPA")]
    [InlineData(true, true, true, "UTF8SMTPSA")]
    public void Create_ProtocolName_FollowsTlsAuthAndSmtpUtf8(bool tls, bool auth, bool smtpUtf8, string protocol)
    {
        var session = new SmtpSessionInfo(7, new IPEndPoint(IPAddress.Loopback, 40000), new IPEndPoint(IPAddress.Loopback, 2525))
        {
            HeloName = "client.test",
            IsTls = tls,
            AuthenticatedUser = auth ? "alice" : null,
        };

        var text = Encoding.UTF8.GetString(ReceivedHeader.Create(session, "proxy.test", "7.1", ["b@example.net"], DateTimeOffset.UnixEpoch, smtpUtf8));

        Assert.Contains($" with {protocol} id 7.1", text);
    }
}
