namespace SmtpAmpProxy.Smtp.Protocol;

/// <summary>How a connection gets TLS.</summary>
public enum TlsMode
{
    /// <summary>Plaintext only.</summary>
    None,

    /// <summary>Plaintext first, upgraded by STARTTLS (RFC 3207).</summary>
    StartTls,

    /// <summary>TLS from the first byte (RFC 8314 "implicit TLS", port 465).</summary>
    Implicit,
}
