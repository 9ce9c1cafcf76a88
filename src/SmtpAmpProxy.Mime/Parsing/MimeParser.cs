namespace SmtpAmpProxy.Mime.Parsing;

public static class MimeParser
{
    /// <summary>
    /// Reads the structure of a message held in memory (a spilled message is memory-mapped by the caller).
    /// Never throws for any content; a crossed limit ends in a result whose <see cref="MimeParseResult.Status"/>
    /// says which.
    /// </summary>
    public static MimeParseResult Parse(ReadOnlyMemory<byte> message, MimeLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var scanner = new StructureScanner(message, limits);
        return scanner.Run();
    }
}
