using System.Security.Cryptography;
using SmtpAmpProxy.Smtp.Protocol;
using SmtpAmpProxy.Smtp.Server;

namespace SmtpAmpProxy.Upstream;

/// <summary>
/// The file-drop upstream: each relayed message becomes one <c>.eml</c> file, for trying the proxy
/// without a SendGrid account and for tests. A file appears whole or not at all (temporary name, then
/// rename), so a reader polling the folder never sees half a message.
/// </summary>
internal sealed class DirectoryUpstream : IUpstream
{
    private readonly string _directory;

    public DirectoryUpstream(string directory)
    {
        _directory = directory;
        System.IO.Directory.CreateDirectory(directory);
    }

    public UpstreamHealth? Health => null;

    /// <summary>A file holds whatever bytes it is given: there is no next hop that could lack SMTPUTF8.</summary>
    public bool OffersSmtpUtf8 => true;

    public IUpstreamTransaction Begin(SmtpSessionInfo session) => new Transaction(_directory);

    private sealed class Transaction(string directory) : IUpstreamTransaction
    {
        private static readonly Task<SmtpReply> MailAccepted = Task.FromResult(new SmtpReply(250, "2.1.0", "Ok"));
        private static readonly Task<SmtpReply> RcptAccepted = Task.FromResult(new SmtpReply(250, "2.1.5", "Ok"));

        public UpstreamFault? Fault => null;

        public Task<SmtpReply> MailAsync(string reversePath, MailParameters parameters, CancellationToken ct) => MailAccepted;

        public Task<SmtpReply> RcptAsync(string forwardPath, CancellationToken ct) => RcptAccepted;

        public Task<SmtpReply?> BeginDataAsync(CancellationToken ct) => Task.FromResult<SmtpReply?>(null);

        public async Task<SmtpReply> DataAsync(IReadOnlyList<ReadOnlyMemory<byte>> content, CancellationToken ct)
        {
            var id = $"{DateTime.UtcNow:yyyyMMddHHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
            var temporary = Path.Combine(directory, $".{id}.tmp");
            var final = Path.Combine(directory, $"{id}.eml");
            try
            {
                await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
                {
                    foreach (var segment in content)
                    {
                        await file.WriteAsync(segment, ct).ConfigureAwait(false);
                    }

                    await file.FlushAsync(ct).ConfigureAwait(false);
                }

                File.Move(temporary, final);
            }
            catch (IOException e)
            {
                File.Delete(temporary);
                return new SmtpReply(451, "4.3.0", $"Error: cannot write to the outbox ({e.GetType().Name})");
            }

            return new SmtpReply(250, "2.0.0", $"Ok: queued as {id}");
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
