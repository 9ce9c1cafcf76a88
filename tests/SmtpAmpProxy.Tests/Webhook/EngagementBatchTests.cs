using System.Text;
using System.Text.Json;
using SmtpAmpProxy.Webhook;

namespace SmtpAmpProxy.Tests.Webhook;

public sealed class EngagementBatchTests
{
    private static Dictionary<EngagementKey, long> Count(string json) => EngagementBatch.Count(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Count_SendGridsAmpExamples_SplitOpensAndClicksByContent()
    {
        // The open and click events of SendGrid's AMP page, plus an HTML open and a delivery.
        var counts = Count("""
            [
              {"email":"john.smith@sendgrid.com","event":"open","ip":"66.249.84.159","sg_event_id":"zgAjGPn1TGmO62eSqw9VBQ",
               "sg_message_id":"zT-FDCibS4uwaz08cIX8_Q.filter0794p1las1-20361-5CCC528C-16.0","sg_content_type":"amp",
               "timestamp":1556901948,"useragent":"Mozilla/5.0","smtp_amp_proxy":"repaired"},
              {"email":"john.smith@sendgrid.com","event":"click","ip":"12.34.56.789","sg_event_id":"fmip8TM8RWqJjT44cL5z-w",
               "timestamp":1556901957,"url":"http://google.com/","url_offset":{"index":0,"type":"amp"},"smtp_amp_proxy":"repaired"},
              {"event":"open","sg_content_type":"html","smtp_amp_proxy":"passed","category":["a",["b"]],"pool":{"name":"p","id":1}},
              {"event":"delivered","smtp_amp_proxy":"passed"},
              {"event":"open","sg_content_type":"amp","smtp_amp_proxy":"repaired"}
            ]
            """);

        Assert.Equal(2, counts[new("open", "amp", "repaired")]);
        Assert.Equal(1, counts[new("click", "amp", "repaired")]);
        Assert.Equal(1, counts[new("open", "html", "passed")]);
        Assert.Equal(1, counts[new("delivered", "none", "passed")]);
        Assert.Equal(4, counts.Count);
    }

    [Fact]
    public void Count_UnknownNamesAndValues_MapToFixedLabels()
    {
        var counts = Count("""
            [
              {"event":"brand-new-event"},
              {"sg_content_type":"amp"},
              {"event":"open","sg_content_type":"weird","smtp_amp_proxy":"forged"},
              {"event":"click","url_offset":{"index":3}},
              {"event":"click","url_offset":"amp"},
              {"event":42,"smtp_amp_proxy":{"nested":true}}
            ]
            """);

        Assert.Equal(1, counts[new("other", "none", "untagged")]);
        Assert.Equal(2, counts[new("unknown", "none", "untagged")]);
        Assert.Equal(1, counts[new("open", "other", "other")]);
        Assert.Equal(2, counts[new("click", "unknown", "untagged")]);
    }

    [Fact]
    public void Count_EveryDocumentedEventType_KeepsItsName()
    {
        string[] names = ["processed", "dropped", "deferred", "delivered", "bounce", "blocked", "open", "click", "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe"];

        var counts = Count("[" + string.Join(",", names.Select(n => $"{{\"event\":\"{n}\"}}")) + "]");

        Assert.Equal(names.Order(), counts.Keys.Select(k => k.Event).Order());
    }

    [Theory]
    [InlineData("")]
    [InlineData("{}")]
    [InlineData("[1]")]
    [InlineData("[{\"event\":\"open\"}")]
    [InlineData("[{\"event\":\"open\"}] []")]
    [InlineData("[{\"event\":\"open\",}]")]
    [InlineData("[{\"event\":\"open\"} /* c */]")]
    public void Count_NotABatchOfObjects_Throws(string json)
    {
        Assert.ThrowsAny<JsonException>(() => Count(json));
    }

    [Fact]
    public void Count_DeeplyNestedValue_ThrowsAtTheDepthLimit()
    {
        var deep = "[{\"event\":\"open\",\"x\":" + new string('[', 100_000) + new string(']', 100_000) + "}]";

        Assert.ThrowsAny<JsonException>(() => Count(deep));
    }

    [Fact]
    public void Count_ValueNestedWithinTheLimit_IsSkipped()
    {
        var counts = Count("[{\"event\":\"open\",\"x\":" + new string('[', 12) + new string(']', 12) + ",\"sg_content_type\":\"amp\"}]");

        Assert.Equal(1, counts[new("open", "amp", "untagged")]);
    }

    [Fact]
    public void Count_HugeArray_CountsEveryElement()
    {
        const int Events = 300_000;
        var json = "[" + string.Join(",", Enumerable.Repeat("{}", Events)) + "]";

        Assert.Equal(Events, Count(json)[new("unknown", "none", "untagged")]);
    }
}
