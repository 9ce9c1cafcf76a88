using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;

namespace SmtpAmpProxy.Normalizer.Tests.Interop;

/// <summary>
/// Python's email package reads the input and the normalized output: the alternatives must come out in
/// the expected order and every kept leaf must decode to the same bytes as before.
/// </summary>
public sealed class PythonEmailInteropTests
{
    public static TheoryData<string> RepairedCorpus()
    {
        var data = new TheoryData<string>();
        foreach (var c in CorpusCase.All().Where(c => c.Verdict == "rewrite"))
        {
            data.Add(c.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RepairedCorpus))]
    public async Task Normalize_RepairedCorpusMessage_PythonSeesExpectedOrderAndSamePayloads(string name)
    {
        PythonEmailOracle.RequirePython();
        var c = CorpusCase.Named(name);
        var message = await File.ReadAllBytesAsync(c.EmlPath, TestContext.Current.CancellationToken);

        var result = Trees.Normalize(message);
        var output = Trees.Output(message, result);

        await AssertOracleAgreesAsync(message, output, c.Alternatives!, result);
    }

    [Fact]
    public async Task Normalize_NestedRepairsWithEncodings_PythonSeesExpectedOrderAndSamePayloads()
    {
        PythonEmailOracle.RequirePython();
        var message = Message(Mixed(
            Related(Alt(Plain(), Part("text/html; charset=utf-8", "PHA+aHRtbDwvcD4=", "Content-Transfer-Encoding: base64\r\n"),
                Part("text/x-amp-html; charset=utf-8", "<p>caf=C3=A9</p>=\r\n", "Content-Transfer-Encoding: quoted-printable\r\n")), Image()),
            Alt(Amp("<p>one</p>"), Plain(), Amp("<p>two</p>")),
            Attachment()));

        var result = Trees.Normalize(message);
        var output = Trees.Output(message, result);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        await AssertOracleAgreesAsync(message, output,
            [["text/plain", "text/x-amp-html", "text/html"], ["text/x-amp-html", "text/plain"]], result);
    }

    private static async Task AssertOracleAgreesAsync(byte[] input, byte[] output, string[][] expectedOrder, NormalizationResult result)
    {
        var ct = TestContext.Current.CancellationToken;
        var before = await PythonEmailOracle.SummariseAsync(input, ct);
        var after = await PythonEmailOracle.SummariseAsync(output, ct);

        Assert.Equal(expectedOrder, after.Alternatives);
        Assert.Equal(before.Alternatives.Length, after.Alternatives.Length);

        // Every leaf after is one from before with the same decoded payload; only dropped duplicate AMP parts go missing.
        var remaining = before.Leaves.ToList();
        foreach (var leaf in after.Leaves)
        {
            Assert.True(remaining.Remove(leaf), $"leaf {leaf.Type} {leaf.Sha256} is not among the input's leaves");
        }

        Assert.All(remaining, leaf => Assert.Equal("text/x-amp-html", leaf.Type));
        int duplicates = before.Alternatives.Sum(a => Math.Max(0, a.Count(t => t == "text/x-amp-html") - 1));
        Assert.Equal(result.Actions.Any(a => a.Code == "amp-duplicate") ? duplicates : 0, remaining.Count);
    }
}
