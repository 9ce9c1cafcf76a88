using System.Buffers;
using BenchmarkDotNet.Attributes;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>
/// One command line at a time, as a non-pipelining sender (smtp-source, most MTAs) sends them. Commands
/// without an argument must not allocate; MAIL and RCPT allocate only the address the handler receives,
/// and nothing when the session repeats them (its string cache), as a sender with a kept connection does.
/// </summary>
[MemoryDiagnoser]
public class ServerCommandBenchmarks
{
    private readonly byte[] _noop = "NOOP\r\n"u8.ToArray();
    private readonly byte[] _data = "DATA\r\n"u8.ToArray();
    private readonly byte[] _rset = "RSET\r\n"u8.ToArray();
    private readonly byte[] _mail = "MAIL FROM:<sender@example.com> SIZE=5120 BODY=8BITMIME\r\n"u8.ToArray();
    private readonly byte[] _rcpt = "RCPT TO:<first.recipient@example.org>\r\n"u8.ToArray();
    private readonly SmtpStringCache _session = new();

    [Benchmark(Description = "NOOP")]
    public bool Noop() => Parse(_noop);

    [Benchmark(Description = "DATA")]
    public bool Data() => Parse(_data);

    [Benchmark(Description = "RSET")]
    public bool Rset() => Parse(_rset);

    [Benchmark(Description = "MAIL FROM with SIZE and BODY")]
    public bool Mail() => Parse(_mail);

    [Benchmark(Description = "RCPT TO")]
    public bool Rcpt() => Parse(_rcpt);

    [Benchmark(Description = "MAIL FROM with SIZE and BODY, repeated in a session")]
    public bool MailRepeated() => Parse(_mail, _session);

    [Benchmark(Description = "RCPT TO, repeated in a session")]
    public bool RcptRepeated() => Parse(_rcpt, _session);

    private static bool Parse(byte[] line, SmtpStringCache? session = null)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(line));
        return SmtpCommandParser.TryParse(ref reader, 2048, session, out _);
    }
}
