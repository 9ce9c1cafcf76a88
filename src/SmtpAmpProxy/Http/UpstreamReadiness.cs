using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Http;

internal readonly record struct Readiness(bool IsReady, string Reason);

/// <summary>
/// Whether the upstream can take mail now: it is reachable and accepts the proxy's login. Under mirror
/// semantics a sender connected to an instance whose upstream is down only ever gets 451s, so such an
/// instance should leave the balancer's pool. A busy pool or one sender's behaviour says nothing about the
/// upstream and never makes the instance unready: what sessions opening saw recently is believed, otherwise
/// one probe at a time opens its own session, outside the pool, and while failed logins hold the upstream's
/// circuit open no probe adds a login attempt.
/// </summary>
internal sealed class UpstreamReadiness(
    ProxyConfiguration configuration, ProxyOptions options, IUpstream upstream, ProxyMetrics metrics, TimeProvider time)
{
    private readonly SemaphoreSlim _probe = new(1, 1);

    /// <summary>A relay or probe that reached the upstream this recently vouches for it without a new connection.</summary>
    public TimeSpan TrustWindow { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// A failure is believed this long before the next probe, so a scrape every second does not
    /// open a connection to a struggling upstream every second.
    /// </summary>
    public TimeSpan FailureHold { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Kubelet's default probe timeout is 1 s; keep well under the periods operators use.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public async Task<Readiness> CheckAsync(CancellationToken ct)
    {
        var upstreamOptions = options.Upstream;
        return upstreamOptions.Mode == UpstreamMode.Directory
            ? FolderProbe.Check("outbox", ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, upstreamOptions.Directory))
            : await CheckSmtpUpstreamAsync(ct).ConfigureAwait(false);
    }

    private async Task<Readiness> CheckSmtpUpstreamAsync(CancellationToken ct)
    {
        if (upstream.Health is { IsAuthCircuitOpen: true })
        {
            // Logins are failing and the back-off lasts: no probe may add a login attempt.
            return new(false, metrics.LastUpstream?.Reason ?? ProxyMetrics.Auth);
        }

        if (Recent(metrics.LastUpstream) is { } known)
        {
            return known;
        }

        await _probe.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // Another request may have probed while this one waited.
            if (Recent(metrics.LastUpstream) is { } probed)
            {
                return probed;
            }

            var (reachable, reason) = await ProbeAsync(ct).ConfigureAwait(false);
            metrics.RecordUpstream(reachable, reason);
            return new(reachable, reachable ? "ok" : reason!);
        }
        finally
        {
            _probe.Release();
        }
    }

    private Readiness? Recent(UpstreamObservation? last)
    {
        if (last is null)
        {
            return null;
        }

        var age = time.GetElapsedTime(last.Timestamp);
        if (last.Reachable && age < TrustWindow)
        {
            return new(true, "ok");
        }

        return !last.Reachable && age < FailureHold ? new(false, last.Reason ?? "unreachable") : null;
    }

    /// <summary>Opens a session (TLS and AUTH) outside the pool and quits: proves address, certificate and credentials, sends no mail.</summary>
    private Task<(bool Reachable, string? Reason)> ProbeAsync(CancellationToken ct) =>
        upstream.Health is { } health
            ? health.ProbeAsync(ProbeTimeout, ct)
            : Task.FromResult<(bool, string?)>((true, null));
}

/// <summary>A folder the appliance writes to is usable when a file can be created in it.</summary>
internal static class FolderProbe
{
    public static Readiness Check(string what, string directory)
    {
        try
        {
            // A dot name: readers of the outbox take *.eml only, like the upstream's own temporary files.
            using var probe = new FileStream(Path.Combine(directory, $".ready-{Guid.NewGuid():N}.tmp"),
                FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            return new(true, "ok");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(false, $"{what} {directory} is not writable: {e.Message}");
        }
    }
}
