using System.Globalization;
using System.Text;
using System.Text.Json;
using SmtpAmpProxy.Queue.Bounce;
using SmtpAmpProxy.Queue.Spool;

namespace SmtpAmpProxy.Queue.Control;

/// <summary>
/// <c>queue list [--json] | show ID | flush | delete ID</c>. Listing reads the spool's state files,
/// which every delivery updates, so it works beside a running instance or without one; flush and delete
/// go to the running instance, which holds the schedule (delete works offline too, under the spool lock).
/// </summary>
internal static class QueueCommand
{
    public const string Usage = "usage: queue list [--json] | queue show ID | queue flush | queue delete ID";

    /// <returns>0 done, 1 failed (no such message, no running instance), 2 usage.</returns>
    public static async Task<int> RunAsync(string directory, IReadOnlyList<string> args, TextWriter output, TextWriter error, TimeProvider time, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(time);
        switch (args)
        {
            case ["list"]:
                List(MessageSpool.ReadAll(directory), output, time.GetUtcNow());
                return 0;
            case ["list", "--json"]:
                await output.WriteLineAsync(JsonSerializer.Serialize(MessageSpool.ReadAll(directory), SpoolJson.Default.ListQueuedMessage)).ConfigureAwait(false);
                return 0;
            case ["show", string id]:
                return await ShowAsync(directory, id, output, error).ConfigureAwait(false);
            case ["flush"]:
                return await SendAsync(directory, "flush", output, error, ct).ConfigureAwait(false);
            case ["delete", string id] when QueueId.IsValid(id):
                return await DeleteAsync(directory, id, output, error, ct).ConfigureAwait(false);
            case ["delete", string id]:
                await error.WriteLineAsync($"not a queue id: {id}").ConfigureAwait(false);
                return 2;
            default:
                await error.WriteLineAsync(Usage).ConfigureAwait(false);
                return 2;
        }
    }

    private static void List(List<QueuedMessage> messages, TextWriter output, DateTimeOffset now)
    {
        // The shape of postqueue -p: one block per message, its recipients indented under it.
        foreach (QueuedMessage m in messages)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{m.Id} {m.Size,10} {m.Arrival:yyyy-MM-dd HH:mm:ss} ({(now - m.Arrival).TotalMinutes:0} min)  <{m.Sender}>"));
            foreach (QueuedRecipient r in m.Recipients)
            {
                string next = r.NextAttempt is { } at && r.IsOutstanding ? string.Create(CultureInfo.InvariantCulture, $", next {at:HH:mm:ss}") : "";
                string reply = r.LastReply is { } last ? " " + last.ToString().ReplaceLineEndings(" ") : "";
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    {r.Address} {r.Status.ToString().ToLowerInvariant()} ({r.Attempts} attempts{next}){reply}"));
            }
        }

        long bytes = messages.Sum(m => m.Size);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"-- {messages.Count} messages, {bytes} bytes"));
    }

    private static async Task<int> ShowAsync(string directory, string id, TextWriter output, TextWriter error)
    {
        if (MessageSpool.ReadOne(directory, id) is not { } message)
        {
            await error.WriteLineAsync($"no such message: {id}").ConfigureAwait(false);
            return 1;
        }

        await output.WriteLineAsync(JsonSerializer.Serialize(message, SpoolJson.Default.QueuedMessage)).ConfigureAwait(false);
        if (MessageSpool.ReadContentOffline(directory, id) is { } bytes)
        {
            // The header block only: enough to tell which message it is, without dumping a large body.
            await output.WriteLineAsync().ConfigureAwait(false);
            await output.WriteLineAsync(Encoding.UTF8.GetString(DeliveryStatusNotification.HeaderBlock(bytes))).ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task<int> DeleteAsync(string directory, string id, TextWriter output, TextWriter error, CancellationToken ct)
    {
        using (FileStream? held = Directory.Exists(directory) ? MessageSpool.TryLock(directory) : null)
        {
            if (held is not null)
            {
                // Nobody runs this spool: the files are all there is.
                if (MessageSpool.RemoveOffline(directory, id))
                {
                    await output.WriteLineAsync($"deleted {id}").ConfigureAwait(false);
                    return 0;
                }

                await error.WriteLineAsync($"no such message: {id}").ConfigureAwait(false);
                return 1;
            }
        }

        return await SendAsync(directory, "delete " + id, output, error, ct).ConfigureAwait(false);
    }

    private static async Task<int> SendAsync(string directory, string command, TextWriter output, TextWriter error, CancellationToken ct)
    {
        string? answer = await QueueControlClient.SendAsync(directory, command, ct).ConfigureAwait(false);
        if (answer is null)
        {
            await error.WriteLineAsync($"no running instance owns the spool {Path.GetFullPath(directory)}").ConfigureAwait(false);
            return 1;
        }

        if (answer.StartsWith("ok", StringComparison.Ordinal))
        {
            await output.WriteLineAsync(command == "flush" ? $"{answer[2..].Trim()} messages due now" : $"deleted {command[7..]}").ConfigureAwait(false);
            return 0;
        }

        await error.WriteLineAsync(answer).ConfigureAwait(false);
        return 1;
    }
}
