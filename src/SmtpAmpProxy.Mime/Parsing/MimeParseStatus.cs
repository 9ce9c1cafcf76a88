namespace SmtpAmpProxy.Mime.Parsing;

public enum MimeParseStatus
{
    Ok,
    DepthExceeded,
    PartCountExceeded,
    HeaderBlockTooLarge,
    ParameterCountExceeded,

    /// <summary>A multipart's boundary reads differently in different parsers (unquoted, with a space in it).</summary>
    AmbiguousBoundary,
}
