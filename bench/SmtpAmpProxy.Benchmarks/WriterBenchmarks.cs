using System.Net;
using BenchmarkDotNet.Attributes;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Mime.Writing;
using SmtpAmpProxy.Normalizer;
using SmtpAmpProxy.Normalizer.Options;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Relay;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Benchmarks;

/// <summary>
/// The output side of the pipeline: the MIME writer streaming a repaired message (unchanged ranges written
/// from the source, only moved delimiters synthesized), and the Received trace field made per message.
/// </summary>
[MemoryDiagnoser]
public class WriterBenchmarks
{
    private static readonly MimeLimits Limits = new();
    private static readonly AmpOptions Options = new();
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private byte[] _small = [];
    private byte[] _large = [];
    private NormalizationResult _smallResult = null!;
    private NormalizationResult _largeResult = null!;
    private SmtpSessionInfo _session = null!;
    private readonly string[] _recipients = ["rcpt@example.org"];

    [GlobalSetup]
    public void Setup()
    {
        _small = NormalizeMessages.SmallMisorderedAmp();
        _large = NormalizeMessages.LargeMixedAmp();
        _smallResult = AmpNormalizer.Normalize(_small, Limits, Options);
        _largeResult = AmpNormalizer.Normalize(_large, Limits, Options);
        if (_smallResult.Verdict != AmpVerdict.Rewrite || _largeResult.Verdict != AmpVerdict.Rewrite)
        {
            throw new InvalidOperationException("benchmark messages must need a repair");
        }

        _session = new SmtpSessionInfo(1, new IPEndPoint(IPAddress.Loopback, 40000), new IPEndPoint(IPAddress.Loopback, 2525));
    }

    [Benchmark(Description = "write 5 KB repaired AMP to a stream")]
    public void WriteSmall() =>
        MimeWriter.Write(_small, _smallResult.Parsed!, _smallResult.Rewrite, Stream.Null);

    [Benchmark(Description = "write 25 MB repaired mixed to a stream")]
    public void WriteLarge() =>
        MimeWriter.Write(_large, _largeResult.Parsed!, _largeResult.Rewrite, Stream.Null);

    [Benchmark(Description = "segments 5 KB repaired AMP")]
    public int SegmentsSmall() => AmpNormalizer.GetOutputSegments(_small, _smallResult).Count;

    [Benchmark(Description = "Received header")]
    public int Received() => ReceivedHeader.Create(_session, "smtp-amp-proxy.local", "1.1", _recipients, Now).Length;
}
