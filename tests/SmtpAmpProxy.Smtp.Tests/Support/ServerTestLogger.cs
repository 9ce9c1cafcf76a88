using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>Sends server logs to the test output and keeps them for assertions.</summary>
internal sealed class ServerTestLoggerProvider : ILoggerFactory
{
    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(ServerTestLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            owner.Entries.Enqueue((eventId.Id, logLevel, message));
            try
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"[{logLevel} {eventId.Id}] {message}{(exception is null ? "" : " " + exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test already finished; its output is closed.
            }
        }
    }
}
