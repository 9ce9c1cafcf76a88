namespace SmtpAmpProxy.Mime.Parsing;

/// <summary>
/// Steps the parsers take on this thread: bytes a search or comparison went over, and one per item handled
/// (line, parameter, delimiter candidate). Tests compare the count for an input of size N and 2N to prove
/// work grows linearly without timing anything; an increment costs one thread-local add.
/// </summary>
internal static class ParseWork
{
    [ThreadStatic]
    private static long t_steps;

    public static long Steps => t_steps;

    public static void Add(long steps) => t_steps += steps;
}
