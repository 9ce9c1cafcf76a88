using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>Keeps every formatted log line, at every level, so tests can assert what reaches the log.</summary>
internal sealed class ClientListLogger : ILogger
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
        {
            _lines.Add($"{eventId.Id} {formatter(state, exception)}");
        }
    }
}
