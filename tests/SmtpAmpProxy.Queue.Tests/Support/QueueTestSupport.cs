using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using SmtpAmpProxy.Queue.Delivery;
using SmtpAmpProxy.Smtp.Client;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Queue.Tests.Support;

/// <summary>A folder under the temp path, removed with everything in it.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        // Short: the queue's control socket lives in it, and Unix socket paths are limited to 107 bytes.
        Path = Directory.CreateTempSubdirectory("q").FullName;
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A child process may still be closing a file; the temp folder is cleaned by the system.
        }
    }
}

/// <summary>An upstream scripted per attempt: each call answers with the replies the test gives for that request.</summary>
internal sealed class ScriptedDelivery(Func<DeliveryRequest, SmtpReply[]> script) : IMessageDelivery
{
    public ConcurrentQueue<DeliveryRequest> Requests { get; } = new();

    public static SmtpReply Ok { get; } = new(250, "2.0.0", "OK");

    public static SmtpReply Busy { get; } = new(451, "4.3.0", "Try again later");

    public static ScriptedDelivery Always(SmtpReply reply) => new(r => DeliveryReplies.ForAll(r.Recipients.Count, reply));

    public Task<IReadOnlyList<SmtpReply>> DeliverAsync(DeliveryRequest request, CancellationToken ct)
    {
        Requests.Enqueue(request);
        return Task.FromResult<IReadOnlyList<SmtpReply>>(script(request));
    }
}

/// <summary>Log lines kept for assertions (event id and rendered message).</summary>
internal sealed class ListLoggerFactory : ILoggerFactory, ILogger
{
    public ConcurrentQueue<(int EventId, string Message)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue((eventId.Id, formatter(state, exception)));

    public IEnumerable<string> WithId(int id) => Lines.Where(l => l.EventId == id).Select(l => l.Message);
}

internal static class QueueTest
{
    public static FakeTimeProvider Clock() => new(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));

    public static QueueOptions Options(string directory) => new() { Directory = directory, ReportingMta = "relay.test", Workers = 4 };

    public static byte[] Message(string subject, string body = "Hello.\r\n") => Encoding.ASCII.GetBytes(
        $"From: Sender <sender@example.com>\r\nTo: a@example.net, b@example.net\r\nSubject: {subject}\r\n" +
        $"Message-ID: <{subject}@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}");

    /// <summary>The Subject line of a message made by <see cref="Message"/>.</summary>
    public static string SubjectOf(ReadOnlySpan<byte> message)
    {
        string text = Encoding.ASCII.GetString(message);
        int start = text.IndexOf("\r\nSubject: ", StringComparison.Ordinal) + 2;
        return start < 2 ? "" : text[start..text.IndexOf("\r\n", start, StringComparison.Ordinal)];
    }

    public static Task<SmtpAmpProxy.Queue.Spool.EnqueueResult> EnqueueAsync(MailQueue queue, string subject, params string[] recipients) =>
        queue.EnqueueAsync("sender@example.com", null, recipients.Select(r => new SmtpRecipient(r)).ToList(), [Message(subject)], CancellationToken.None);

    /// <summary>Debian's interpreter, which .ci/run provides; its stdlib email package is the DSN's judge.</summary>
    public static string RequirePython()
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
        {
            Assert.Skip("/usr/bin/python3 is not installed (apt-get install python3)");
        }

        return python;
    }

    public static (int ExitCode, string StdOut, string StdErr) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + file);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout}");
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
