using System.Text;
using SmtpAmpProxy.Dkim;
using static SmtpAmpProxy.Tests.Dkim.DkimTestSupport;

namespace SmtpAmpProxy.Tests.Dkim;

/// <summary>
/// DKIM work on hostile messages of size n and 2n: the bytes and items walked (DkimWork) per input byte may not
/// grow. Quadratic work would double them; no clock is read.
/// </summary>
public sealed class DkimLinearityTests
{
    private const int N = 2000;
    private const double MaxGrowthPerByte = 1.05;

    private static readonly (string Name, Func<int, byte[]> Build, Action<byte[]> Run)[] Shapes =
    [
        ("many header fields", n => Message(Repeat(n, i => $"To: r{i}@example.org\r\n"), "body\r\n"), Sign),
        ("long folded header", n => Message("Subject: start" + Repeat(n, i => "\r\n folded") + "\r\n", "body\r\n"), Sign),
        ("white-space run in a header value", n => Message("Subject: a" + Repeat(n, i => " \t  \t") + "b\r\n", "body\r\n"), Sign),
        ("white-space run in the body", n => Message("", "a" + Repeat(n, i => " \t \t ") + "b\r\n"), Sign),
        ("lines of white space and empty lines in the body", n => Message("", Repeat(n, i => " \t\r\n\r\n") + "end\r\n" + Repeat(n, i => "\r\n")), Sign),
        ("many signatures over many segments", n => Message(Repeat(n, i => $"DKIM-Signature: v=1; d=d{i}.example; s=s; b=x\r\n"), "body\r\n"), RemoveAllFromSegments),
        ("From with many quoted commas", n => Message("", "body\r\n", from: Repeat(n, i => "\"a, b\" ") + "<x@example.com>"), FindFrom),
    ];

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var shape in Shapes)
        {
            data.Add(shape.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Dkim_HostileMessageDoubled_StepsPerByteDoNotGrow(string name)
    {
        var (_, build, run) = Shapes.Single(s => s.Name == name);
        var small = build(N);
        var large = build(2 * N);

        var smallSteps = Measure(run, small);
        var largeSteps = Measure(run, large);

        var growth = (double)largeSteps / large.Length / ((double)smallSteps / small.Length);
        Assert.True(growth <= MaxGrowthPerByte,
            $"{name}: {smallSteps} steps for {small.Length} bytes, {largeSteps} for {large.Length} bytes ({growth:F2}x per byte)");
        Assert.True(smallSteps >= small.Length / 2, $"{name}: {smallSteps} steps for {small.Length} bytes");
    }

    [Fact]
    public void RemoveAll_ThousandsOfSignaturesOverThousandsOfSegments_EverySignatureGoneRestIntact()
    {
        var message = Shapes.Single(s => s.Name == "many signatures over many segments").Build(5000);
        var segments = InPieces(message, 64);

        var remaining = Text(DkimSignatureScanner.RemoveAll(segments));

        Assert.Equal("From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n", remaining);
    }

    [Fact]
    public void Sign_ThousandsOfToFields_ListsEveryOneInH()
    {
        var field = Encoding.ASCII.GetString(DkimSigner.Sign(One(Shapes[0].Build(3000)), SharedKey(), SignTime));
        var h = field.Replace("\r\n\t", "", StringComparison.Ordinal);
        var list = h[(h.IndexOf(" h=", StringComparison.Ordinal) + 3)..h.IndexOf(';', h.IndexOf(" h=", StringComparison.Ordinal))];
        Assert.Equal(3000, list.Split(':').Count(n => n == "to"));
    }

    private static void Sign(byte[] message) => _ = DkimSigner.Sign(One(message), SharedKey(), SignTime);

    private static void RemoveAllFromSegments(byte[] message) => _ = DkimSignatureScanner.RemoveAll(InPieces(message, 64));

    private static void FindFrom(byte[] message) => Assert.Equal("example.com", FromDomain.Find(HeaderBlock.Read(One(message))));

    private static long Measure(Action<byte[]> run, byte[] message)
    {
        var before = DkimWork.Steps;
        run(message);
        return DkimWork.Steps - before;
    }

    private static IReadOnlyList<ReadOnlyMemory<byte>> InPieces(byte[] message, int size) =>
        Enumerable.Range(0, (message.Length + size - 1) / size).Select(i => (ReadOnlyMemory<byte>)message.AsMemory(i * size, Math.Min(size, message.Length - (i * size)))).ToList();

    private static byte[] Message(string extraHeaders, string body, string from = "a@example.com") =>
        Encoding.ASCII.GetBytes($"From: {from}\r\n{extraHeaders}Subject: s\r\n\r\n{body}");

    private static string Repeat(int n, Func<int, string> unit)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            sb.Append(unit(i));
        }

        return sb.ToString();
    }
}
