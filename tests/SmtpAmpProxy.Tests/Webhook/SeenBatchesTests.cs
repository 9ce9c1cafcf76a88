using Microsoft.Extensions.Time.Testing;
using SmtpAmpProxy.Webhook;

namespace SmtpAmpProxy.Tests.Webhook;

public sealed class SeenBatchesTests
{
    private static byte[] Digest(int n) => [.. BitConverter.GetBytes(n), .. new byte[28]];

    [Fact]
    public void TryAdd_SameDigestInsideTheWindow_IsRefusedAndForgottenAfterIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var seen = new SeenBatches(TimeSpan.FromMinutes(5), time);
        var signedAt = time.GetUtcNow().ToUnixTimeSeconds();

        Assert.True(seen.TryAdd(Digest(1), signedAt));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(seen.TryAdd(Digest(1), signedAt));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(seen.TryAdd(Digest(1), signedAt));
    }

    [Fact]
    public void TryAdd_PastCapacity_ForgetsTheOldestFirst()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var seen = new SeenBatches(TimeSpan.FromMinutes(5), time);
        var now = time.GetUtcNow().ToUnixTimeSeconds();

        for (var i = 0; i <= SeenBatches.Capacity; i++)
        {
            Assert.True(seen.TryAdd(Digest(i), now));
        }

        Assert.False(seen.TryAdd(Digest(SeenBatches.Capacity), now));
        Assert.True(seen.TryAdd(Digest(0), now));
    }
}
