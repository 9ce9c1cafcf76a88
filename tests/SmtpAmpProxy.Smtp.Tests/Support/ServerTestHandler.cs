using System.Collections.Concurrent;
using SmtpAmpProxy.Smtp.Buffers;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Smtp.Tests.Support;

internal sealed record ServerTestMessage(long SessionId, string From, IReadOnlyList<string> To, byte[] Data, bool WasSpilled);

/// <summary>Records every handler call; replies can be overridden per test.</summary>
internal sealed class ServerTestHandlerFactory : ISmtpSessionHandlerFactory
{
    public ConcurrentQueue<ServerTestMessage> Messages { get; } = new();

    public ConcurrentQueue<string> Calls { get; } = new();

    public ConcurrentQueue<SmtpSessionInfo> Sessions { get; } = new();

    public int Disposed => _disposed;

    public Func<string, SmtpReply>? OnMail { get; set; }

    /// <summary>What every handler says when EHLO asks whether SMTPUTF8 may be offered.</summary>
    public bool OffersSmtpUtf8 { get; set; } = true;

    public Func<string, SmtpReply>? OnRcpt { get; set; }

    /// <summary>The answer to DATA before 354 (null goes ahead).</summary>
    public Func<SmtpReply?>? OnDataStart { get; set; }

    /// <summary>Runs inside DataAsync (after the message was recorded); may wait to hold a transaction open.</summary>
    public Func<CancellationToken, Task>? OnData { get; set; }

    private int _disposed;

    public ISmtpSessionHandler Create(SmtpSessionInfo session)
    {
        Sessions.Enqueue(session);
        return new Handler(this, session);
    }

    private sealed class Handler(ServerTestHandlerFactory owner, SmtpSessionInfo session) : ISmtpSessionHandler
    {
        private readonly List<string> _to = [];
        private string? _from;

        public bool OffersSmtpUtf8 => owner.OffersSmtpUtf8;

        public ValueTask<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct)
        {
            owner.Calls.Enqueue($"MAIL {reversePath} {parameters.Raw}".TrimEnd());
            var reply = owner.OnMail?.Invoke(reversePath) ?? new SmtpReply(250, "2.1.0", "Ok");
            if (reply.IsPositive)
            {
                _from = reversePath;
                _to.Clear();
            }

            return ValueTask.FromResult(reply);
        }

        public ValueTask<SmtpReply> RcptAsync(string forwardPath, string rawParameters, CancellationToken ct)
        {
            owner.Calls.Enqueue($"RCPT {forwardPath}");
            var reply = owner.OnRcpt?.Invoke(forwardPath) ?? new SmtpReply(250, "2.1.5", "Ok");
            if (reply.IsPositive)
            {
                _to.Add(forwardPath);
            }

            return ValueTask.FromResult(reply);
        }

        public ValueTask<SmtpReply?> DataStartAsync(CancellationToken ct)
        {
            owner.Calls.Enqueue("DATA-START");
            return ValueTask.FromResult(owner.OnDataStart?.Invoke());
        }

        public async ValueTask<SmtpReply> DataAsync(MessageBuffer message, CancellationToken ct)
        {
            owner.Calls.Enqueue($"DATA {message.Length}");
            owner.Messages.Enqueue(new ServerTestMessage(session.SessionId, _from ?? "?", [.. _to], message.GetMemory().ToArray(), message.IsSpilled));
            if (owner.OnData is { } onData)
            {
                await onData(ct);
            }

            _to.Clear();
            return new SmtpReply(250, "2.0.0", "Ok: queued as TEST");
        }

        public ValueTask ResetAsync(CancellationToken ct)
        {
            owner.Calls.Enqueue("RESET");
            _to.Clear();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            Interlocked.Increment(ref owner._disposed);
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>Accepts one user/password pair.</summary>
internal sealed class ServerTestAuthenticator(string user, string password) : ISmtpAuthenticator
{
    public ConcurrentQueue<string> Attempts { get; } = new();

    public ValueTask<string?> AuthenticateAsync(string u, string p, SmtpSessionInfo session, CancellationToken ct)
    {
        Attempts.Enqueue(u);
        return ValueTask.FromResult(u == user && p == password ? u : null);
    }
}
