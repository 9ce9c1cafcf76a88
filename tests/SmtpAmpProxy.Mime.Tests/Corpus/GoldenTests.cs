using System.Text;
using SmtpAmpProxy.Mime.Tests.Support;
using SmtpAmpProxy.Mime.Writing;

namespace SmtpAmpProxy.Mime.Tests.Corpus;

/// <summary>
/// Each corpus message has a tree summary beside it (NAME.tree). Set MIME_UPDATE_GOLDEN=1 to rewrite them after
/// a deliberate change, then review the diff.
/// </summary>
public sealed class GoldenTests
{
    public static TheoryData<string> Files => Support.Corpus.Names();

    [Theory]
    [MemberData(nameof(Files))]
    public void Parse_CorpusMessage_MatchesTreeSummary(string file)
    {
        var tree = TreeFormatter.Format(MimeTest.Parse(Support.Corpus.Read(file)));
        var treePath = Path.Combine(Support.Corpus.Directory, Path.ChangeExtension(file, ".tree"));
        if (Environment.GetEnvironmentVariable("MIME_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(treePath, tree, new UTF8Encoding(false));
        }

        Assert.True(File.Exists(treePath), $"missing golden file {treePath}; run with MIME_UPDATE_GOLDEN=1 and review it");
        Assert.Equal(File.ReadAllText(treePath, Encoding.UTF8), tree);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void GetSegments_CorpusMessageEmptyRewrite_ByteIdentical(string file)
    {
        var source = Support.Corpus.Read(file);
        var parsed = MimeTest.Parse(source);

        var walked = MimeTest.Concat(SegmentBuilder.Build(source, parsed.Root, new MimeRewrite()));
        var written = MimeTest.Rewrite(source, parsed, new MimeRewrite());

        Assert.True(MimeTest.FirstDifference(source, walked) == string.Empty, $"{file}: tree walk {MimeTest.FirstDifference(source, walked)}");
        Assert.True(MimeTest.FirstDifference(source, written) == string.Empty, $"{file}: writer {MimeTest.FirstDifference(source, written)}");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Write_CorpusMessageEmptyRewrite_StreamsSourceUnchanged(string file)
    {
        var source = Support.Corpus.Read(file);
        using var output = new MemoryStream();
        MimeWriter.Write(source, MimeTest.Parse(source), new MimeRewrite(), output);
        Assert.Equal(string.Empty, MimeTest.FirstDifference(source, output.ToArray()));
    }
}
