using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Queue;
using SmtpAmpProxy.Queue.Control;

namespace SmtpAmpProxy.Hosting;

/// <summary>Queue mode's delivery workers and the control socket that <c>queue flush</c> and <c>queue delete</c> talk to.</summary>
internal sealed class QueueService(MailQueue queue, ILoggerFactory loggerFactory) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private QueueControlServer? _control;
    private Task? _delivering;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _control = QueueControlServer.Start(queue, loggerFactory);
        _delivering = queue.RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Deliveries in progress end now; their recipients stay as the spool last recorded them and are
        // tried again after the restart (at least once).
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_delivering is not null)
        {
            await _delivering.ConfigureAwait(false);
        }

        if (_control is not null)
        {
            await _control.DisposeAsync().ConfigureAwait(false);
        }
    }

    // The queue itself is a container singleton: the container disposes it, releasing the spool's lock.
    public void Dispose() => _stop.Dispose();
}
