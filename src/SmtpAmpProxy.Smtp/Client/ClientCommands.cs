using System.Text;

namespace SmtpAmpProxy.Smtp.Client;

/// <summary>
/// Pure builders of client command lines (RFC 5321 4.1.1), CRLF included. No I/O here, so pipelining
/// can concatenate them and tests can check exact bytes.
/// </summary>
internal static class ClientCommands
{
    public static readonly byte[] Data = "DATA\r\n"u8.ToArray();
    public static readonly byte[] Rset = "RSET\r\n"u8.ToArray();
    public static readonly byte[] Noop = "NOOP\r\n"u8.ToArray();
    public static readonly byte[] Quit = "QUIT\r\n"u8.ToArray();
    public static readonly byte[] StartTls = "STARTTLS\r\n"u8.ToArray();
    public static readonly byte[] AuthLogin = "AUTH LOGIN\r\n"u8.ToArray();
    public static readonly byte[] AuthCancel = "*\r\n"u8.ToArray();

    public static byte[] Ehlo(string clientName) => Line("EHLO ", Checked(clientName, nameof(clientName), allowSpace: false));

    public static byte[] Helo(string clientName) => Line("HELO ", Checked(clientName, nameof(clientName), allowSpace: false));

    public static byte[] Mail(string reversePath, string? parameters) =>
        Line("MAIL FROM:", Path(reversePath, nameof(reversePath)) + Parameters(parameters, nameof(parameters)));

    public static byte[] Rcpt(string forwardPath, string? parameters) =>
        Line("RCPT TO:", Path(forwardPath, nameof(forwardPath)) + Parameters(parameters, nameof(parameters)));

    /// <summary>AUTH PLAIN with the initial response (RFC 4954 4, RFC 4616 2): base64("" NUL user NUL password).</summary>
    public static byte[] AuthPlain(string username, string password) =>
        Line("AUTH PLAIN ", Convert.ToBase64String(Encoding.UTF8.GetBytes("\0" + username + "\0" + password)));

    /// <summary>One base64 line answering a 334 challenge (AUTH LOGIN user name or password).</summary>
    public static byte[] Base64Line(string value) => Line("", Convert.ToBase64String(Encoding.UTF8.GetBytes(value)));

    private static string Path(string path, string name)
    {
        Checked(path, name, allowSpace: true);
        // Callers may pass the address bare ("a@b", "" for the null sender) or already bracketed.
        return path.Length >= 2 && path[0] == '<' && path[^1] == '>' ? path : "<" + path + ">";
    }

    private static string Parameters(string? parameters, string name) =>
        string.IsNullOrEmpty(parameters) ? "" : " " + Checked(parameters.Trim(), name, allowSpace: true);

    // A CR or LF inside an argument would let whoever controls it inject whole commands upstream
    // (SMTP command injection); other control characters have no place in a command line either.
    private static string Checked(string value, string name, bool allowSpace)
    {
        foreach (char c in value)
        {
            if (c < 0x20 || c == 0x7F || (!allowSpace && c == ' '))
            {
                throw new ArgumentException("Control characters (or spaces) are not allowed in an SMTP command argument.", name);
            }
        }

        return value;
    }

    private static byte[] Line(string verb, string argument)
    {
        int length = Encoding.UTF8.GetByteCount(verb) + Encoding.UTF8.GetByteCount(argument) + 2;
        var bytes = new byte[length];
        int n = Encoding.UTF8.GetBytes(verb, bytes);
        n += Encoding.UTF8.GetBytes(argument, bytes.AsSpan(n));
        bytes[n] = (byte)'\r';
        bytes[n + 1] = (byte)'\n';
        return bytes;
    }
}
