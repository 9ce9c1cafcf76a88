using System.Text;
using BenchmarkDotNet.Attributes;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>The relay client's per-byte work: DATA encoding (CRLF + dot-stuffing) and reply parsing.</summary>
[MemoryDiagnoser]
public class ClientBenchmarks
{
    private byte[] _message = [];
    private byte[] _output = [];
    private byte[] _ehlo = [];

    [Params(1_048_576)]
    public int MessageBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Base64-like 76-character lines with an occasional leading dot: what a typical attachment-bearing message looks like.
        var text = new StringBuilder();
        int line = 0;
        while (text.Length < MessageBytes)
        {
            text.Append(line++ % 50 == 0 ? "." : "Q").Append('A', 75).Append("\r\n");
        }

        _message = Encoding.ASCII.GetBytes(text.ToString());
        _output = new byte[65536];
        _ehlo = "250-smtp.sendgrid.net\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-SIZE 31457280\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 AUTH=PLAIN LOGIN\r\n"u8.ToArray();
    }

    [Benchmark]
    public int EncodeData()
    {
        var encoder = new DataEncoder();
        ReadOnlySpan<byte> rest = _message;
        int total = 0;
        while (!rest.IsEmpty)
        {
            encoder.Encode(rest, _output, out int consumed, out int written);
            rest = rest[consumed..];
            total += written;
        }

        return total + encoder.Complete(_output);
    }

    [Benchmark]
    public SmtpReply ParseEhloReply()
    {
        ReplyParser.TryParse(_ehlo, out SmtpReply reply, out _);
        return reply;
    }
}
