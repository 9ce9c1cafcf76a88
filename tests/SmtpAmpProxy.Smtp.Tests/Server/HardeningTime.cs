using SmtpAmpProxy.Smtp.Tests.Support;

namespace SmtpAmpProxy.Smtp.Tests.Server;

/// <summary>The shared virtual clock, with the polling wait the hardening tests use.</summary>
internal sealed class HardeningTime : ServerTestTime
{
    /// <summary>Polls (bounded, real time) for a state the server reaches on its own threads.</summary>
    public static Task WaitUntilAsync(Func<bool> condition, string what) => ServerTestHost.WaitUntilAsync(condition, what);
}
