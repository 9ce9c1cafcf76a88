namespace SmtpAmpProxy.Mime;

public enum MimeParseStatus
{
    Ok,
    DepthExceeded,
    PartCountExceeded,
    HeaderBlockTooLarge,
    ParameterCountExceeded,
}
