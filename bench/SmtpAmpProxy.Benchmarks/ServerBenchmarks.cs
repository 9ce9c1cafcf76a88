using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>The server's per-byte work: reading DATA (unstuffing, line ends, end detection) and parsing commands.</summary>
[MemoryDiagnoser]
public class ServerBenchmarks
{
    private byte[] _data = [];
    private byte[] _commands = [];

    [Params(1_048_576)]
    public int MessageBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // 78-byte lines with an occasional stuffed dot, as a sender's DATA stream looks on the wire.
        var text = new StringBuilder();
        var line = 0;
        while (text.Length < MessageBytes)
        {
            text.Append(line++ % 50 == 0 ? ".." : "Q").Append('A', 75).Append("\r\n");
        }

        text.Append(".\r\n");
        _data = Encoding.ASCII.GetBytes(text.ToString());
        _commands = Encoding.ASCII.GetBytes(
            "MAIL FROM:<sender@example.com> SIZE=12345 BODY=8BITMIME\r\n" +
            "RCPT TO:<first.recipient@example.org>\r\nRCPT TO:<second@example.net>\r\nDATA\r\n");
    }

    /// <summary>DATA fed in 16 KB chunks (the session's pipe buffer size) into an in-memory message buffer.</summary>
    [Benchmark]
    public long ReadData()
    {
        using var buffer = new MessageBuffer(2 * MessageBytes);
        var reader = new SmtpDataReader(buffer, long.MaxValue, BareLineFeedPolicy.Normalize);
        for (var offset = 0; offset < _data.Length; offset += 16 * 1024)
        {
            var chunk = _data.AsSpan(offset, Math.Min(16 * 1024, _data.Length - offset));
            if (reader.Process(chunk, out _))
            {
                break;
            }
        }

        return buffer.Length;
    }

    /// <summary>A pipelined MAIL, two RCPT and DATA, as one read.</summary>
    [Benchmark]
    public int ParsePipelinedCommands()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_commands));
        var count = 0;
        while (SmtpCommandParser.TryParse(ref reader, 2048, out _))
        {
            count++;
        }

        return count;
    }
}
