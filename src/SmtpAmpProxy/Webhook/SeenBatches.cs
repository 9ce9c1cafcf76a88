namespace SmtpAmpProxy.Webhook;

/// <summary>
/// The digests of signed batches accepted while their timestamps are still inside the skew window.
/// Past the window a replay is refused as stale anyway, so an entry lives only that long. Keyed by
/// the digest of timestamp and body, not by the signature: ECDSA signatures are malleable, and
/// (r, n − s) verifies as well as (r, s).
/// </summary>
internal sealed class SeenBatches(TimeSpan maxSkew, TimeProvider time)
{
    /// <summary>
    /// SendGrid posts a batch every few seconds at most per connection; 65,536 batches in a
    /// 10-minute window is far beyond that and costs a few megabytes. Past it the oldest go first.
    /// </summary>
    public const int Capacity = 65_536;

    private readonly Lock _lock = new();
    private readonly HashSet<string> _digests = new(StringComparer.Ordinal);
    private readonly Queue<(string Digest, long Expires)> _order = new();

    /// <summary>False when the batch was seen before; else remembers it until its timestamp leaves the window.</summary>
    public bool TryAdd(byte[] digest, long timestampSeconds)
    {
        var key = Convert.ToBase64String(digest);
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            while (_order.Count > 0 && (_order.Peek().Expires < now || _order.Count >= Capacity))
            {
                _digests.Remove(_order.Dequeue().Digest);
            }

            if (!_digests.Add(key))
            {
                return false;
            }

            // Entries leave in arrival order; a later arrival may expire a little earlier, which only
            // keeps it a little longer than needed.
            _order.Enqueue((key, timestampSeconds + (long)Math.Ceiling(maxSkew.TotalSeconds)));
            return true;
        }
    }
}
