using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SmtpAmpProxy.Configuration;

namespace SmtpAmpProxy.Quarantine;

/// <summary>
/// Keeps each rejected message as <c>ID.eml</c> (the bytes as received) with <c>ID.json</c> (why), so an operator
/// can see what a sender was refused for and send it on by hand once it is fixed. The folder is bounded: past
/// <see cref="MaxTotalBytes"/> the oldest pairs go first. IDs start with the UTC time, so name order is age order.
/// Nothing here may change the SMTP reply: a failure is a warning in the log, never an exception.
/// </summary>
internal sealed class MessageQuarantine(string directory, long maxTotalBytes)
{
    private const string TempPrefix = ".";
    private static long _sequence;

    // One pruner at a time in this process; another instance sharing the folder may delete a file under us,
    // which is why every delete tolerates a file that is already gone.
    private readonly SemaphoreSlim _pruning = new(1, 1);

    public string Directory { get; } = directory;

    public long MaxTotalBytes { get; } = maxTotalBytes;

    /// <summary>Null when <see cref="QuarantineOptions.Directory"/> is empty (the quarantine is off).</summary>
    public static MessageQuarantine? FromOptions(QuarantineOptions options, string contentRoot) =>
        string.IsNullOrWhiteSpace(options.Directory)
            ? null
            : new MessageQuarantine(ProxyOptionsValidator.ResolvePath(contentRoot, options.Directory), options.MaxTotalBytes);

    /// <returns>The quarantine id, or null when the message could not be kept (logged).</returns>
    public async Task<string?> KeepAsync(ReadOnlyMemory<byte> message, QuarantineRecord record, DateTimeOffset now, ILogger logger)
    {
        var id = NewId(now);
        var eml = Path.Combine(Directory, id + ".eml");
        try
        {
            System.IO.Directory.CreateDirectory(Directory);

            // The .eml first: a .json, which is what tools look for, always has its message beside it.
            await WriteAtomicallyAsync(eml, message).ConfigureAwait(false);
            await WriteAtomicallyAsync(Path.Combine(Directory, id + ".json"), Describe(id, record, now, message.Length)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            QuarantineLog.Failed(logger, record.SessionId, record.MessageId, Directory, e.Message);
            TryDelete(eml);
            return null;
        }

        QuarantineLog.Kept(logger, record.SessionId, record.MessageId, record.Code, id, eml);
        await PruneAsync(logger).ConfigureAwait(false);
        return id;
    }

    private static string NewId(DateTimeOffset now) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{now.UtcDateTime:yyyyMMdd'T'HHmmssfff'Z'}-{Interlocked.Increment(ref _sequence):x8}-{Random.Shared.Next(0x10000):x4}");

    /// <summary>Written under a dot-name, then renamed: a reader never sees half a file under the final name.</summary>
    private static async Task WriteAtomicallyAsync(string path, ReadOnlyMemory<byte> bytes)
    {
        var temp = Path.Combine(Path.GetDirectoryName(path)!, TempPrefix + Path.GetFileName(path) + ".tmp");
        try
        {
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                await file.WriteAsync(bytes).ConfigureAwait(false);
            }

            File.Move(temp, path, overwrite: false);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static byte[] Describe(string id, QuarantineRecord record, DateTimeOffset now, long size)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("time", now.UtcDateTime);
            json.WriteNumber("sessionId", record.SessionId);
            json.WriteString("client", record.Client);
            json.WriteString("sender", record.Sender);
            json.WriteStartArray("recipients");
            foreach (var recipient in record.Recipients)
            {
                json.WriteStringValue(recipient);
            }

            json.WriteEndArray();
            json.WriteString("messageId", record.MessageId);
            json.WriteString("code", record.Code);
            json.WriteString("reason", record.Reason);
            json.WriteString("reply", $"{record.Reply.Code} {record.Reply.EnhancedCode} {record.Reply.Text}");
            json.WriteNumber("size", size);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private async Task PruneAsync(ILogger logger)
    {
        await _pruning.WaitAsync().ConfigureAwait(false);
        try
        {
            var byId = new SortedDictionary<string, (long Bytes, List<string> Files)>(StringComparer.Ordinal);
            long total = 0;
            foreach (var file in new DirectoryInfo(Directory).EnumerateFiles())
            {
                if (file.Name.StartsWith(TempPrefix, StringComparison.Ordinal) || file.Extension is not (".eml" or ".json"))
                {
                    continue;
                }

                var id = Path.GetFileNameWithoutExtension(file.Name);
                var entry = byId.GetValueOrDefault(id, (0, []));
                entry.Files.Add(file.FullName);
                byId[id] = (entry.Bytes + file.Length, entry.Files);
                total += file.Length;
            }

            var removed = 0;
            long freed = 0;
            foreach (var (_, (bytes, files)) in byId)
            {
                if (total <= MaxTotalBytes)
                {
                    break;
                }

                files.ForEach(TryDelete);
                total -= bytes;
                freed += bytes;
                removed++;
            }

            if (removed > 0)
            {
                QuarantineLog.Pruned(logger, removed, freed, MaxTotalBytes);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            QuarantineLog.Failed(logger, 0, null, Directory, "pruning: " + e.Message);
        }
        finally
        {
            _pruning.Release();
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Already gone, or not ours to delete: the next prune tries again.
        }
    }
}
