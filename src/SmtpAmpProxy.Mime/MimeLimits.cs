namespace SmtpAmpProxy.Mime;

/// <summary>Bounds on the work one message may cause the structure parser to do.</summary>
public sealed record MimeLimits
{
    /// <summary>
    /// Nesting of multiparts (the root is depth 0). Stops stack-and-time exhaustion from messages that nest
    /// boundaries thousands deep; 32 is far beyond any real mail client's output.
    /// </summary>
    public int MaxDepth { get; init; } = 32;

    /// <summary>Entities in the tree, root included. Stops allocation floods from thousands of empty parts.</summary>
    public int MaxParts { get; init; } = 1000;

    /// <summary>
    /// Bytes of any one header block (fields and the blank line). Stops a header without end from making every
    /// later step scan megabytes; Postfix's header_size_limit is 102400, we allow more for long DKIM/ARC chains.
    /// </summary>
    public int MaxHeaderBlockBytes { get; init; } = 262144;

    /// <summary>
    /// Parameters in one Content-Type field, RFC 2231 sections counted one by one. Stops the parameter bomb: a
    /// field of tens of thousands of "pN=v" pairs, each becoming strings to compare and keep, on every part of a
    /// message that mentions x-amp-html. A 255-character non-ASCII file name split into RFC 2231 continuations
    /// needs about 35 sections; real mail stays under 10 parameters. Crossing it refuses the message as
    /// mime-limit: a boundary parameter past the cap would otherwise go unread and hide the parts behind it.
    /// </summary>
    public int MaxParametersPerField { get; init; } = 100;
}
