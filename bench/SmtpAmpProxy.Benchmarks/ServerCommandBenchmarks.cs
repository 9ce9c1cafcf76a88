using System.Buffers;
using BenchmarkDotNet.Attributes;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>
/// One command line at a time, as a non-pipelining sender (smtp-source, most MTAs) sends them. Commands
/// without an argument must not allocate; MAIL and RCPT allocate only the address the handler receives.
/// </summary>
[MemoryDiagnoser]
public class ServerCommandBenchmarks
{
    private readonly byte[] _noop = "NOOP\r\n"u8.ToArray();
    private readonly byte[] _data = "DATA\r\n"u8.ToArray();
    private readonly byte[] _rset = "RSET\r\n"u8.ToArray();
    private readonly byte[] _mail = "MAIL FROM:<sender@example.com> SIZE=5120 BODY=8BITMIME\r\n"u8.ToArray();
    private readonly byte[] _rcpt = "RCPT TO:<first.recipient@example.org>\r\n"u8.ToArray();

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

    private static bool Parse(byte[] line)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(line));
        return SmtpCommandParser.TryParse(ref reader, 2048, out _);
    }
}
