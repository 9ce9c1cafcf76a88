using System.Text;

namespace SmtpAmpProxy.Normalizer.Tests.Support;

/// <summary>A MIME node for building test messages; <see cref="Mail"/> turns a tree into bytes.</summary>
internal abstract record Node(string ContentType, string ExtraHeaders);

internal sealed record Leaf(string ContentType, string Body, string ExtraHeaders = "") : Node(ContentType, ExtraHeaders);

internal sealed record Multi(string ContentType, IReadOnlyList<Node> Children, string Boundary, string ExtraHeaders = "")
    : Node(ContentType, ExtraHeaders);

/// <summary>Builds CRLF messages from a small tree notation: <c>Alt(Plain(), Amp(), Html())</c>.</summary>
internal static class Mail
{
    private static int _boundaryCounter;

    public static Leaf Plain(string body = "Hello in plain text.") => new("text/plain; charset=utf-8", body);

    public static Leaf Html(string body = "<p>Hello in HTML.</p>") => new("text/html; charset=utf-8", body);

    /// <summary>An AMP part whose document is valid AMP4EMAIL with <paramref name="content"/> as its body.</summary>
    public static Leaf Amp(string content = "Hello in AMP.") => AmpDocument(ValidAmp(content));

    /// <summary>An AMP part holding <paramref name="document"/> as it stands.</summary>
    public static Leaf AmpDocument(string document, string contentType = "text/x-amp-html; charset=utf-8", string extraHeaders = "") =>
        new(contentType, document, extraHeaders);

    /// <summary>The smallest document that follows every rule the document checks know.</summary>
    public static string ValidAmp(string content = "Hello in AMP.", string head = "") =>
        "<!doctype html>\r\n<html \u26A14email>\r\n<head>\r\n<meta charset=\"utf-8\">\r\n" +
        "<script async src=\"https://cdn.ampproject.org/v0.js\"></script>\r\n" +
        $"<style amp4email-boilerplate>body{{visibility:hidden}}</style>\r\n{head}</head>\r\n<body>\r\n{content}\r\n</body>\r\n</html>";

    public static Leaf Image(string contentId = "<img1@example.com>") =>
        new("image/png", "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
            $"Content-Transfer-Encoding: base64\r\nContent-ID: {contentId}\r\n");

    public static Leaf Attachment(string name = "report.pdf") =>
        new("application/pdf", "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK",
            $"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n");

    public static Leaf Part(string contentType, string body, string extraHeaders = "") => new(contentType, body, extraHeaders);

    public static Multi Alt(params Node[] children) => Multipart("alternative", children);

    public static Multi Mixed(params Node[] children) => Multipart("mixed", children);

    public static Multi Related(params Node[] children) => Multipart("related", children);

    public static Multi Multipart(string subtype, params Node[] children) => Multipart(subtype, "", children);

    public static Multi Multipart(string subtype, string parameters, params Node[] children)
    {
        string boundary = $"=_b{Interlocked.Increment(ref _boundaryCounter)}_{subtype}";
        return new Multi($"multipart/{subtype}; boundary=\"{boundary}\"{parameters}", children, boundary);
    }

    /// <summary>A multipart/signed whose first child is the signed content (RFC 1847 section 2.1).</summary>
    public static Multi Signed(Node content) => new Multi(
        "multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=\"=_signed\"",
        [content, new Leaf("application/pgp-signature", "-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n-----END PGP SIGNATURE-----")],
        "=_signed");

    public static Leaf Rfc822(Node inner) =>
        new("message/rfc822", Encoding.UTF8.GetString(Message(inner, subject: "attached")));

    public static byte[] Message(Node root, string subject = "test", string topHeaders = "") =>
        Encoding.UTF8.GetBytes(
            "From: Sender <sender@example.com>\r\nTo: Rcpt <rcpt@example.org>\r\n" +
            $"Subject: {subject}\r\nMessage-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\n{topHeaders}" +
            Entity(root));

    public static string Entity(Node node)
    {
        var text = new StringBuilder();
        text.Append("Content-Type: ").Append(node.ContentType).Append("\r\n").Append(node.ExtraHeaders).Append("\r\n");
        switch (node)
        {
            case Leaf leaf:
                text.Append(leaf.Body).Append("\r\n");
                break;
            case Multi multi:
                text.Append("This is a multi-part message in MIME format.\r\n");
                foreach (var child in multi.Children)
                {
                    text.Append("\r\n--").Append(multi.Boundary).Append("\r\n").Append(Entity(child).TrimEnd('\r', '\n'));
                }

                text.Append("\r\n--").Append(multi.Boundary).Append("--\r\n");
                break;
        }

        return text.ToString();
    }
}
