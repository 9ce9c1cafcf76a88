using System.Net;

namespace SmtpAmpProxy.Smtp.Server.ProxyProtocol;

internal enum ProxyCommand
{
    /// <summary>The balancer's own connection (a health check): the socket's addresses stand.</summary>
    Local,

    /// <summary>A relayed connection: the addresses are the real client's.</summary>
    Proxy,
}

/// <summary>A parsed PROXY protocol header (v1 text or v2 binary).</summary>
/// <param name="Source">The real client; null when the header carries none (LOCAL, UNKNOWN, AF_UNSPEC, AF_UNIX).</param>
/// <param name="Destination">The address the client connected to; null when <paramref name="Source"/> is.</param>
internal readonly record struct ProxyHeader(int Version, ProxyCommand Command, IPEndPoint? Source, IPEndPoint? Destination);

internal enum ProxyProtocolError
{
    /// <summary>The first bytes are neither "PROXY " nor the v2 signature: the peer does not speak PROXY.</summary>
    BadSignature,

    /// <summary>A v1 line without its CRLF within 107 bytes (the spec's maximum).</summary>
    LineTooLong,

    /// <summary>A v1 line that is not "PROXY TCP4|TCP6 src dst sport dport" or "PROXY UNKNOWN ...".</summary>
    BadLine,
    BadAddress,
    BadPort,
    BadVersion,
    BadCommand,
    BadFamily,

    /// <summary>A v2 length too short for its address family, or over the limit.</summary>
    BadLength,
    BadTlv,
}

/// <summary>A malformed PROXY header; the connection is closed without a word.</summary>
internal sealed class ProxyProtocolException(ProxyProtocolError error, string message) : Exception(message)
{
    public ProxyProtocolError Error { get; } = error;
}
