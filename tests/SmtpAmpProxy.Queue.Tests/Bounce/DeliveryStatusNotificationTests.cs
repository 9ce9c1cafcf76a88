using System.Text;
using System.Text.Json;
using SmtpAmpProxy.Queue.Bounce;
using SmtpAmpProxy.Queue.Tests.Support;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Tests.Bounce;

public sealed class DeliveryStatusNotificationTests
{
    private static readonly DateTimeOffset Arrival = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Build_OneRefusedRecipient_PythonEmailParsesMultipartReportNamingIt()
    {
        byte[] dsn = DeliveryStatusNotification.Build("relay.test", "0123456789abcdef0123", "sender@example.com", Arrival, Arrival.AddMinutes(1),
            [new FailedRecipient("gone@example.net", new SmtpReply(550, "5.1.1", "No such user here"), Expired: false)],
            QueueTest.Message("report-me"));

        using JsonDocument report = Parse(dsn);
        JsonElement root = report.RootElement;
        Assert.Equal("multipart/report", root.GetProperty("type").GetString());
        Assert.Equal("delivery-status", root.GetProperty("report_type").GetString());
        Assert.Empty(root.GetProperty("defects").EnumerateArray());
        Assert.Equal(["text/plain", "message/delivery-status", "text/rfc822-headers"],
            root.GetProperty("parts").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("dns; relay.test", root.GetProperty("per_message").GetProperty("Reporting-MTA").GetString());
        Assert.Equal("Mon, 02 Mar 2026 09:00:00 +0000", root.GetProperty("per_message").GetProperty("Arrival-Date").GetString());
        JsonElement recipient = Assert.Single(root.GetProperty("recipients").EnumerateArray());
        Assert.Equal("rfc822; gone@example.net", recipient.GetProperty("final_recipient").GetString());
        Assert.Equal("failed", recipient.GetProperty("action").GetString());
        Assert.Equal("5.1.1", recipient.GetProperty("status").GetString());
        Assert.Equal("smtp; 550 5.1.1 No such user here", recipient.GetProperty("diagnostic").GetString());
        Assert.Equal("report-me", root.GetProperty("original_subject").GetString());
    }

    [Fact]
    public void Build_HeaderFieldsOfTheReport_NullSenderSafeAndAutoSubmitted()
    {
        string dsn = Encoding.UTF8.GetString(DeliveryStatusNotification.Build("relay.test", "0123456789abcdef0123", "sender@example.com", Arrival, Arrival,
            [new FailedRecipient("gone@example.net", new SmtpReply(550, "", "No"), Expired: false)], QueueTest.Message("h")));
        string head = dsn[..dsn.IndexOf("\r\n\r\n", StringComparison.Ordinal)];

        Assert.Contains("From: Mail Delivery System <MAILER-DAEMON@relay.test>", head, StringComparison.Ordinal);
        Assert.Contains("To: <sender@example.com>", head, StringComparison.Ordinal);
        Assert.Contains("Auto-Submitted: auto-replied", head, StringComparison.Ordinal);
        // A reply without an enhanced code gets its class's generic one (RFC 3463).
        Assert.Contains("Status: 5.0.0", dsn, StringComparison.Ordinal);
        // The body of the original is not returned, only its headers.
        Assert.DoesNotContain("Hello.", dsn, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ReplyTextWithLineBreaks_CannotAddFieldsToTheReport()
    {
        var hostile = new SmtpReply(550, "5.1.1", "No\r\nAction: delivered\nStatus: 2.0.0");

        byte[] dsn = DeliveryStatusNotification.Build("relay.test", "0123456789abcdef0123", "sender@example.com", Arrival, Arrival,
            [new FailedRecipient("gone@example.net\r\nAction: delivered", hostile, Expired: false)], QueueTest.Message("hostile"));

        using JsonDocument report = Parse(dsn);
        JsonElement recipient = Assert.Single(report.RootElement.GetProperty("recipients").EnumerateArray());
        Assert.Equal("failed", recipient.GetProperty("action").GetString());
        Assert.Equal("5.1.1", recipient.GetProperty("status").GetString());
    }

    [Fact]
    public void Build_ManyRecipientsAndUtf8Address_OneBlockEachWithUtf8Type()
    {
        FailedRecipient[] failed = [.. Enumerable.Range(0, 100).Select(i => new FailedRecipient($"user{i}@example.net", new SmtpReply(550, "5.1.1", "No"), false)),
            new FailedRecipient("jürgen@example.de", new SmtpReply(450, "4.2.2", "Mailbox full"), Expired: true)];

        using JsonDocument report = Parse(DeliveryStatusNotification.Build("relay.test", "0123456789abcdef0123", "s@example.com", Arrival, Arrival, failed, QueueTest.Message("many")));

        JsonElement[] recipients = [.. report.RootElement.GetProperty("recipients").EnumerateArray()];
        Assert.Equal(101, recipients.Length);
        Assert.Equal("utf-8; jürgen@example.de", recipients[100].GetProperty("final_recipient").GetString());
        Assert.Equal("4.2.2", recipients[100].GetProperty("status").GetString());
    }

    [Fact]
    public void HeaderBlock_NoEmptyLine_WholeMessageWithoutFinalLineEnd()
    {
        Assert.Equal("Subject: x", Encoding.ASCII.GetString(DeliveryStatusNotification.HeaderBlock("Subject: x\r\n"u8)));
        Assert.Equal("Subject: x", Encoding.ASCII.GetString(DeliveryStatusNotification.HeaderBlock("Subject: x\r\n\r\nbody\r\n\r\nmore"u8)));
    }

    private static JsonDocument Parse(byte[] dsn)
    {
        string python = QueueTest.RequirePython();
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "dsn.eml");
        File.WriteAllBytes(path, dsn);
        var (exit, stdout, stderr) = QueueTest.Run(python, [Path.Combine(AppContext.BaseDirectory, "Interop", "dsn_report.py"), path], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, stderr);
        return JsonDocument.Parse(stdout);
    }
}
