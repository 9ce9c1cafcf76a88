using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;

namespace SmtpAmpProxy.Normalizer.Tests.Corpus;

public sealed class CorpusTests
{
    public static TheoryData<string> Messages() => CorpusCase.Names();

    [Fact]
    public void Corpus_HoldsMessagesFromEveryProducer()
    {
        var names = CorpusCase.All().Select(c => c.Name).ToList();

        Assert.Contains(names, n => n.StartsWith("python", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("hand", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("nodemailer", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Normalize_CorpusMessage_MatchesItsExpectedVerdict(string name)
    {
        var c = CorpusCase.Named(name);
        var message = File.ReadAllBytes(c.EmlPath);

        var result = Trees.Normalize(message);

        Assert.Equal(c.Verdict, result.Verdict.ToString().ToLowerInvariant());
        Assert.Equal(c.Code, result.RejectCode);
        Assert.Equal(c.Actions, result.Actions.Select(a => a.Code));
        Assert.Equal(c.Warnings, result.Warnings.Select(w => w.Code));
        if (result.Verdict == AmpVerdict.Reject)
        {
            return;
        }

        var output = Trees.Output(message, result);
        if (result.Verdict == AmpVerdict.Pass)
        {
            Assert.Equal(message, output);
        }

        Assert.NotNull(c.Alternatives);
        Assert.Equal(c.Alternatives, Trees.AlternativeOrders(output));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Normalize_CorpusOutput_PassesUnchangedTheSecondTime(string name)
    {
        var c = CorpusCase.Named(name);
        var message = File.ReadAllBytes(c.EmlPath);
        var first = Trees.Normalize(message);
        if (first.Verdict == AmpVerdict.Reject)
        {
            return;
        }

        var output = Trees.Output(message, first);

        var second = Trees.Normalize(output);

        Assert.Equal(AmpVerdict.Pass, second.Verdict);
        Assert.Equal(output, Trees.Output(output, second));
    }
}
