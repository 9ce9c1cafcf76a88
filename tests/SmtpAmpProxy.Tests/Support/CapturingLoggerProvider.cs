using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>
/// Keeps every log entry with its structured fields and the fields of its scopes (the trace and span ids the
/// logger factory adds for the current activity), and echoes it to the test output.
/// </summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private IExternalScopeProvider? _scopes;

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public IEnumerable<LogEntry> WithEvent(int eventId) => _entries.Where(e => e.EventId == eventId);

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, CapturingLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    fields[key] = value;
                }
            }

            var scopes = new Dictionary<string, object?>(StringComparer.Ordinal);
            provider._scopes?.ForEachScope(
                static (scope, into) =>
                {
                    if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
                    {
                        foreach (var (key, value) in pairs)
                        {
                            into[key] = value;
                        }
                    }
                },
                scopes);

            var message = formatter(state, exception);
            provider._entries.Enqueue(new LogEntry(category, logLevel, eventId.Id, message, fields, scopes));
            try
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"[{logLevel}] {category}({eventId.Id}): {message}");
            }
            catch (InvalidOperationException)
            {
                // Logged after the test ended.
            }
        }
    }
}

internal sealed record LogEntry(
    string Category, LogLevel Level, int EventId, string Message, IReadOnlyDictionary<string, object?> Fields, IReadOnlyDictionary<string, object?> Scopes)
{
    public string? Field(string name) => Fields.TryGetValue(name, out var value) ? value?.ToString() : null;

    public string? Scope(string name) => Scopes.TryGetValue(name, out var value) ? value?.ToString() : null;
}
