using System.Text;
using SmtpAmpProxy.Mime.Parsing;
using SmtpAmpProxy.Normalizer.Results;
using SmtpAmpProxy.Normalizer.Tests.Support;
using static SmtpAmpProxy.Normalizer.Tests.Support.Mail;

namespace SmtpAmpProxy.Normalizer.Tests.Rules;

public sealed class StructureTests
{
    [Fact]
    public void Normalize_AlternativeInsideRelatedInsideMixed_RepairsTheNestedAlternative()
    {
        var message = Message(Mixed(Related(Alt(Plain(), Html(), Amp()), Image()), Attachment()));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal("moved AMP part /1/1/3 before part /1/1/2 in /1/1", Assert.Single(result.Actions).Description);
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], Trees.ChildTypes(Trees.Output(message, result)));
    }

    [Fact]
    public void Normalize_TwoMisorderedAlternatives_RepairsBoth()
    {
        var message = Message(Mixed(Alt(Plain(), Html(), Amp("<p>one</p>")), Alt(Plain(), Amp("<p>two</p>"))));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal(["amp-after-html", "amp-last"], result.Actions.Select(a => a.Code));
        var orders = Trees.AlternativeOrders(Trees.Output(message, result));
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], orders[0]);
        Assert.Equal(["text/x-amp-html", "text/plain"], orders[1]);
    }

    [Fact]
    public void Normalize_OneCompliantOneMisorderedAlternative_LeavesTheCompliantOneByteForByte()
    {
        var message = Message(Mixed(Alt(Amp("<p>one</p>"), Plain(), Html()), Alt(Plain(), Html(), Amp("<p>two</p>"))));
        var parsed = MimeParser.Parse(message, Trees.Limits);
        var compliant = Trees.Alternatives(parsed.Root)[0];

        var output = Trees.Output(message, Trees.Normalize(message));

        var original = message.AsSpan(compliant.Offset, compliant.Length);
        Assert.True(output.AsSpan(compliant.Offset, compliant.Length).SequenceEqual(original));
    }

    [Fact]
    public void Normalize_MisorderedAmpInAttachedMessage_IsIgnored()
    {
        var message = Message(Mixed(Plain(), Rfc822(Alt(Plain(), Html(), Amp()))));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
        Assert.False(result.HasAmp);
        Assert.Empty(result.Warnings);
        Assert.NotNull(result.Parsed);
    }

    [Fact]
    public void Normalize_MisplacedAmpInAttachedMessage_IsIgnored()
    {
        var message = Message(Mixed(Plain(), Rfc822(Amp())));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Pass, result.Verdict);
    }

    [Fact]
    public void Normalize_AmpAlternativeInsideAlternative_JudgesTheInnerOne()
    {
        var message = Message(Alt(Plain(), Alt(Html(), Amp())));

        var result = Trees.Normalize(message);

        Assert.Equal(AmpVerdict.Rewrite, result.Verdict);
        Assert.Equal("moved AMP part /2/2 before part /2/1 in /2", Assert.Single(result.Actions).Description);
    }

    [Fact]
    public void Normalize_RepairWithPreambleAndEpilogue_KeepsBytesOutsideTheEditedBody()
    {
        string text =
            "From: a@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n" +
            "outer preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\ninner preamble\r\n" +
            "--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n" +
            "--inner\r\nContent-Type: text/x-amp-html\r\n\r\n<html amp4email></html>\r\n--inner--\r\ninner epilogue\r\n" +
            "--outer\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--outer--\r\nouter epilogue\r\n";
        var message = Encoding.ASCII.GetBytes(text);
        var alt = Trees.Alternatives(MimeParser.Parse(message, Trees.Limits).Root)[0];

        var output = Trees.Output(message, Trees.Normalize(message));

        int tail = message.Length - (alt.BodyOffset + alt.BodyLength);
        Assert.Equal(message.Length, output.Length);
        Assert.True(output.AsSpan(0, alt.BodyOffset).SequenceEqual(message.AsSpan(0, alt.BodyOffset)));
        Assert.True(output.AsSpan(output.Length - tail).SequenceEqual(message.AsSpan(message.Length - tail)));
        Assert.Equal(["text/plain", "text/x-amp-html", "text/html"], Trees.ChildTypes(output));
        Assert.Contains("inner preamble", Encoding.ASCII.GetString(output));
        Assert.Contains("inner epilogue", Encoding.ASCII.GetString(output));
    }
}
