using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Mime.Tests.Support;

namespace SmtpAmpProxy.Mime.Tests.Hostile;

/// <summary>
/// Each hostile shape parsed at size n and 2n: the parser's steps (bytes searched and compared, items handled;
/// see ParseWork) per input byte may not grow. Quadratic work would double them; no clock is read.
/// </summary>
public sealed class LinearityTests
{
    private const int N = 2000;

    // Steps per byte: constant for linear work (the shapes' numbers grow a digit, so bytes do not exactly double),
    // about 1.1 times more for n·log n at this size, twice for n².
    private const double MaxGrowthPerByte = 1.05;

    public static TheoryData<string> Shapes()
    {
        var data = new TheoryData<string>();
        foreach (var shape in HostileShapes.All)
        {
            data.Add(shape.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Parse_HostileShapeDoubled_StepsAtMostDouble(string name)
    {
        var (_, build, limits) = HostileShapes.All.Single(s => s.Name == name);
        var small = build(N);
        var large = build(2 * N);

        var (smallSteps, smallResult) = Measure(small, limits);
        var (largeSteps, largeResult) = Measure(large, limits);

        Assert.Equal(MimeParseStatus.Ok, smallResult.Status);
        Assert.Equal(MimeParseStatus.Ok, largeResult.Status);
        var growth = (double)largeSteps / large.Length / ((double)smallSteps / small.Length);
        Assert.True(growth <= MaxGrowthPerByte,
            $"{name}: {smallSteps} steps for {small.Length} bytes, {largeSteps} for {large.Length} bytes ({growth:F2}x per byte)");

        // The steps are about the input, not some fixed amount: a shape must make the parser walk it.
        Assert.True(smallSteps >= small.Length / 2, $"{name}: {smallSteps} steps for {small.Length} bytes");
    }

    [Fact]
    public void Parse_ParameterBomb20000_EveryParameterRead()
    {
        // The reproduction (119 KB); read whole with the cap lifted, and in steps proportional to its size.
        var message = HostileShapes.ParameterBomb(20_000);
        var (steps, result) = Measure(message, HostileShapes.Unbounded);

        Assert.Equal(MimeParseStatus.Ok, result.Status);
        Assert.Equal(20_001, result.Root.ContentType.Parameters.Count);
        Assert.Equal("b", result.Root.Boundary);
        Assert.Equal(3, result.Root.Children.Count);
        Assert.True(steps <= 4L * message.Length, $"{steps} steps for {message.Length} bytes");
    }

    [Fact]
    public void Parse_ReversedContinuations_JoinedInSectionOrder()
    {
        var result = MimeTest.Parse(HostileShapes.ReversedContinuations(500), HostileShapes.Unbounded);
        Assert.Equal(new string('A', 500), result.Root.ContentType.GetParameter("name"));
    }

    [Fact]
    public void Parse_RepeatedParameter_FirstOccurrenceCounts()
    {
        var result = MimeTest.Parse(HostileShapes.RepeatedParameter(1000), HostileShapes.Unbounded);
        Assert.Equal("x0", result.Root.ContentType.GetParameter("charset"));
        Assert.Equal(2, result.Root.ContentType.Parameters.Count);
    }

    private static (long Steps, MimeParseResult Result) Measure(byte[] message, MimeLimits limits)
    {
        var before = ParseWork.Steps;
        var result = MimeTest.Parse(message, limits);
        return (ParseWork.Steps - before, result);
    }
}
