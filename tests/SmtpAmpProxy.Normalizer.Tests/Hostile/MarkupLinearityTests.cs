using System.Text;
using SmtpAmpProxy.Normalizer.Documents;

namespace SmtpAmpProxy.Normalizer.Tests.Hostile;

/// <summary>
/// Each hostile document scanned at size n and 2n: the bytes the scanner searched or stepped over (ScanWork)
/// per input byte may not grow. A rescan per tag or attribute would double them; no clock is read.
/// </summary>
public sealed class MarkupLinearityTests
{
    private const int N = 2000;
    private const double MaxGrowthPerByte = 1.05;

    public static TheoryData<string> Shapes()
    {
        var data = new TheoryData<string>();
        foreach (var shape in HostileDocuments.All)
        {
            data.Add(shape.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Scan_HostileDocumentDoubled_StepsPerByteDoNotGrow(string name)
    {
        var build = HostileDocuments.All.Single(s => s.Name == name).Build;
        var small = Encoding.UTF8.GetBytes(build(N));
        var large = Encoding.UTF8.GetBytes(build(2 * N));

        var smallSteps = Measure(small);
        var largeSteps = Measure(large);

        var growth = (double)largeSteps / large.Length / ((double)smallSteps / small.Length);
        Assert.True(growth <= MaxGrowthPerByte,
            $"{name}: {smallSteps} steps for {small.Length} bytes, {largeSteps} for {large.Length} bytes ({growth:F2}x per byte)");
        Assert.True(smallSteps >= small.Length / 2, $"{name}: {smallSteps} steps for {small.Length} bytes");
    }

    [Fact]
    public void Scan_SrcsetWithManyInsecureCandidates_CountsEveryOneKeepsThree()
    {
        var document = HostileDocuments.All.Single(s => s.Name == "srcset with many candidates").Build(10_000);
        var report = AmpMarkupScanner.Scan(Encoding.UTF8.GetBytes(document));
        Assert.Equal(10_000, report.InsecureUrlCount);
        Assert.Equal(AmpMarkupReport.MaxUrlsKept, report.InsecureUrls!.Count);
    }

    [Fact]
    public void Scan_ManyStylesheetLinks_EveryOneCounted()
    {
        var document = HostileDocuments.All.Single(s => s.Name == "rel with many tokens").Build(5_000);
        Assert.Equal(5_000, AmpMarkupScanner.Scan(Encoding.UTF8.GetBytes(document)).StylesheetLinks);
    }

    private static long Measure(byte[] document)
    {
        var before = ScanWork.Steps;
        _ = AmpMarkupScanner.Scan(document);
        return ScanWork.Steps - before;
    }
}
