using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Metrics;
using SmtpAmpProxy.Smtp.Server;
using SmtpAmpProxy.Upstream;

namespace SmtpAmpProxy.Relay;

internal sealed class RelaySessionHandlerFactory(
    IUpstream upstream, RelaySettings settings, ILoggerFactory loggerFactory, TimeProvider time, ProxyMetrics metrics)
    : ISmtpSessionHandlerFactory
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("SmtpAmpProxy.Relay");

    public ISmtpSessionHandler Create(SmtpSessionInfo session) =>
        new RelaySessionHandler(session, upstream, settings, _logger, time, metrics);
}
