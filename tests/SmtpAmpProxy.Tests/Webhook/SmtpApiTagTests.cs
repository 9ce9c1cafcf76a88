using System.Text;
using SmtpAmpProxy.Relay;
using SmtpAmpProxy.Webhook;

namespace SmtpAmpProxy.Tests.Webhook;

public sealed class SmtpApiTagTests
{
    private const string Body = "\r\nbody\r\n";

    private static (string Text, SmtpApiTagKind Kind) Tag(string headers, string outcome = "passed")
    {
        var result = SmtpApiTag.Tag([Encoding.UTF8.GetBytes(headers + Body)], outcome);
        return (Encoding.UTF8.GetString([.. result.Segments.SelectMany(s => s.ToArray())]), result.Kind);
    }

    [Fact]
    public void Tag_NoField_PrependsOneAndKeepsTheMessage()
    {
        var (text, kind) = Tag("From: a@example.com\r\nSubject: s\r\n", "repaired");

        Assert.Equal(SmtpApiTagKind.Added, kind);
        Assert.Equal("X-SMTPAPI: {\"unique_args\":{\"smtp_amp_proxy\":\"repaired\"}}\r\nFrom: a@example.com\r\nSubject: s\r\n" + Body, text);
    }

    [Theory]
    [InlineData("{\"category\": [\"amp\"]}", "{\"unique_args\":{\"smtp_amp_proxy\":\"passed\"},\"category\": [\"amp\"]}")]
    [InlineData("{}", "{\"unique_args\":{\"smtp_amp_proxy\":\"passed\"}}")]
    [InlineData("{\"unique_args\": {}}", "{\"unique_args\": {\"smtp_amp_proxy\":\"passed\"}}")]
    [InlineData("{\"unique_args\": {\"customer\": \"42\"}, \"to\": [\"x@example.com\"]}",
        "{\"unique_args\": {\"smtp_amp_proxy\":\"passed\",\"customer\": \"42\"}, \"to\": [\"x@example.com\"]}")]
    [InlineData("{\"unique_args\": {\"smtp_amp_proxy\": \"forged\", \"n\": 1.50}}", "{\"unique_args\": {\"smtp_amp_proxy\": \"passed\", \"n\": 1.50}}")]
    [InlineData("{\"sub\": {\"-name-\": [\"caf\\u00e9\"]}, \"filters\": {\"unique_args\": 1}}",
        "{\"unique_args\":{\"smtp_amp_proxy\":\"passed\"},\"sub\": {\"-name-\": [\"caf\\u00e9\"]}, \"filters\": {\"unique_args\": 1}}")]
    public void Merge_SendersJson_InsertsTheArgumentAndKeepsEveryOtherByte(string json, string expected)
    {
        Assert.Equal(expected, Encoding.UTF8.GetString(SmtpApiTag.Merge(Encoding.UTF8.GetBytes(json), "passed")!));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    [InlineData("{\"unique_args\": \"x\"}")]
    [InlineData("{\"unique_args\": {}, \"unique_args\": {}}")]
    [InlineData("{\"a\": 1,}")]
    [InlineData("{\"a\": 1} {}")]
    [InlineData("{\"a\": 1")]
    public void Merge_NotAnObjectWithObjectArguments_IsRefused(string json)
    {
        Assert.Null(SmtpApiTag.Merge(Encoding.UTF8.GetBytes(json), "passed"));
    }

    [Fact]
    public void Tag_FoldedSenderField_IsUnfoldedMergedAndRefoldedInPlace()
    {
        var (text, kind) = Tag("From: a@example.com\r\nX-SMTPAPI: {\"category\": [\"a\",\r\n \"b\"],\r\n\t\"unique_args\": {\"k\": \"v\"}}\r\nSubject: s\r\n");

        Assert.Equal(SmtpApiTagKind.Merged, kind);
        Assert.Equal("From: a@example.com\r\nX-SMTPAPI: {\"category\": [\"a\", \"b\"],\t\"unique_args\": {\"smtp_amp_proxy\":\"passed\",\"k\": \"v\"}}\r\nSubject: s\r\n" + Body,
            text.Replace("\r\n ", "", StringComparison.Ordinal));
        Assert.All(text.Split("\r\n"), line => Assert.True(line.Length <= 80, line));
    }

    [Fact]
    public void Tag_LongSenderField_IsFoldedOutsideStringsWithinTheLineLimit()
    {
        var recipients = string.Join(",", Enumerable.Range(0, 200).Select(i => $"\"user{i}@example.com, x\""));
        var (text, kind) = Tag($"X-SMTPAPI: {{\"to\": [{recipients}]}}\r\n");

        Assert.Equal(SmtpApiTagKind.Merged, kind);
        var field = text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
        Assert.All(field.Split("\r\n"), line => Assert.InRange(line.Length, 1, 998));
        Assert.Equal($"X-SMTPAPI: {{\"unique_args\":{{\"smtp_amp_proxy\":\"passed\"}},\"to\": [{recipients}]}}", field.Replace("\r\n ", "", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("X-SMTPAPI: {broken\r\n")]
    [InlineData("X-SMTPAPI: {}\r\nX-SMTPAPI: {}\r\n")]
    public void Tag_UnparsableOrAmbiguousField_LeavesTheMessageAlone(string headers)
    {
        var (text, kind) = Tag("From: a@example.com\r\n" + headers);

        Assert.Equal(SmtpApiTagKind.Unparsable, kind);
        Assert.Equal("From: a@example.com\r\n" + headers + Body, text);
    }

    [Theory]
    [InlineData("X-SMTPAPI: {}\r\n", "h=From:Subject:X-SMTPAPI")]
    [InlineData("", "h=from : x-smtpapi")]
    public void Tag_DkimSignatureNamesTheField_LeavesTheMessageAlone(string field, string signedFields)
    {
        var headers = $"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\r\n\t{signedFields}; bh=AAAA; b=AAAA\r\nFrom: a@example.com\r\n{field}";

        var (text, kind) = Tag(headers);

        Assert.Equal(SmtpApiTagKind.DkimCovered, kind);
        Assert.Equal(headers + Body, text);
    }

    [Fact]
    public void Tag_DkimSignatureNotNamingTheField_StillTags()
    {
        var (_, kind) = Tag("DKIM-Signature: v=1; d=example.com; s=s1; h=from:subject:x-smtpapi-other; bh=A; b=A\r\nFrom: a@example.com\r\n");

        Assert.Equal(SmtpApiTagKind.Added, kind);
    }

    [Theory]
    [InlineData("250 Ok: queued as zT-FDCibS4uwaz08cIX8_Q", "zT-FDCibS4uwaz08cIX8_Q")]
    [InlineData("250 2.0.0 Ok: queued as 4XYZ12 ", "4XYZ12")]
    [InlineData("250 2.0.0 Ok", null)]
    public void FindQueueId_SendGridsReply_GivesThePrefixOfSgMessageId(string reply, string? expected)
    {
        Assert.Equal(expected, MessageFacts.FindQueueId(reply));
    }
}
