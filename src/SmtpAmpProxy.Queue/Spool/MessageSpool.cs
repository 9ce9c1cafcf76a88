using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Queue.Spool;

/// <summary>
/// The durable part of the queue. A new message is appended to the <see cref="IntakeLog"/> (one flush for
/// every message accepted at the same moment) and leaves it after its first attempt. One that must wait
/// for a retry moves to files of its own: a content file (<c>ID.eml</c>) and an envelope and state file
/// (<c>ID.json</c>) in <c>queue/</c>, both written in <c>tmp/</c>, fsync'ed, renamed into <c>queue/</c>
/// content first, and the folder fsync'ed; the state file's presence is the commit point, so a crash at
/// any step leaves either a whole message or debris that <see cref="Open"/> removes, and files win over the
/// log when both hold a message. State updates replace the state file by the same write-sync-rename.
/// </summary>
internal sealed class MessageSpool : IDisposable
{
    private const string QueueFolder = "queue";
    private const string TempFolder = "tmp";
    private const string CorruptFolder = "corrupt";
    private const string LockFile = "lock";
    private const string ContentExtension = ".eml";
    private const string StateExtension = ".json";

    private readonly string _queue;
    private readonly string _temp;
    private readonly long _maxBytes;
    private readonly ILogger _logger;
    private readonly GroupCommit _queueSync;
    private IntakeLog? _intake;
    private readonly Dictionary<string, long> _charged = [];
    private readonly Lock _lock = new();
    private long _bytes;
    private FileStream? _lockHandle;

    private MessageSpool(string root, long maxBytes, ILogger logger)
    {
        Root = root;
        _queue = Path.Combine(root, QueueFolder);
        _temp = Path.Combine(root, TempFolder);
        _maxBytes = maxBytes;
        _logger = logger;
        Directory.CreateDirectory(_queue);
        Directory.CreateDirectory(_temp);
        _queueSync = new GroupCommit(_queue);
    }

    public string Root { get; }

    /// <summary>Bytes held by accepted messages (content and state), what <see cref="QueueOptions.MaxBytes"/> limits.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    private IntakeLog Intake => _intake ?? throw new ObjectDisposedException(nameof(MessageSpool));

    /// <summary>
    /// Opens (creating if needed) the spool at <see cref="QueueOptions.Directory"/>, removes what a
    /// crash left half-written, and returns every accepted message found.
    /// </summary>
    public static MessageSpool Open(QueueOptions options, ILogger logger, out List<QueuedMessage> recovered)
    {
        ArgumentNullException.ThrowIfNull(options);
        var spool = new MessageSpool(Path.GetFullPath(options.Directory), options.MaxBytes, logger);
        try
        {
            spool._lockHandle = TryLock(spool.Root)
                ?? throw new IOException($"The spool {spool.Root} is in use by another instance (one spool per instance).");
            recovered = spool.Recover();
            spool._intake = IntakeLog.Open(Path.Combine(spool.Root, IntakeLog.Folder), options.IntakeSegmentBytes, logger, out List<QueuedMessage> inLog);
            SyncFolderNames(spool.Root);
            var filed = recovered.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
            var marks = new List<Task>();
            foreach (QueuedMessage message in inLog)
            {
                if (filed.Contains(message.Id))
                {
                    // Moved to its files, and the crash came before the log's mark: the files are the message.
                    marks.Add(spool._intake.TryResolve(message.Id, now: true)!);
                    continue;
                }

                long charge = message.Size + JsonSerializer.SerializeToUtf8Bytes(message, SpoolJson.Default.QueuedMessage).Length;
                spool._charged[message.Id] = charge;
                spool._bytes += charge;
                recovered.Add(message);
            }

            // Before anything else runs, so that no reader of the spool sees such a message twice.
            marks.ForEach(mark => mark.GetAwaiter().GetResult());
            recovered.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        }
        catch
        {
            spool.Dispose();
            throw;
        }

        return spool;
    }

    /// <summary>
    /// The spool's lock, or null while another process holds it. .NET takes an advisory flock(2) for
    /// <see cref="FileShare.None"/> on Unix, released by the kernel when the holder dies, even by SIGKILL.
    /// </summary>
    public static FileStream? TryLock(string directory)
    {
        try
        {
            return new FileStream(Path.Combine(directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Removes a message from a spool nobody runs (the caller holds <see cref="TryLock"/>).</summary>
    public static bool RemoveOffline(string directory, string id)
    {
        if (!QueueId.IsValid(id))
        {
            return false;
        }

        // Both places: a message moved to its files may still be in the log when the crash came before its mark,
        // and removing only the files would bring the log's copy back at the next start.
        bool inLog = IntakeLog.ResolveOffline(Path.Combine(directory, IntakeLog.Folder), id);
        string state = Path.Combine(directory, QueueFolder, id + StateExtension);
        if (!File.Exists(state))
        {
            return inLog;
        }

        File.Delete(state);
        File.Delete(Path.Combine(directory, QueueFolder, id + ContentExtension));
        Fsync.Directory(Path.Combine(directory, QueueFolder));
        return true;
    }

    public void Dispose()
    {
        _intake?.Dispose();
        _intake = null;
        _queueSync.Dispose();
        _lockHandle?.Dispose();
        _lockHandle = null;
    }

    /// <summary>
    /// Makes the names of the spool's folders durable (a folder made at this start, the intake log's on an older
    /// spool): the first 250s must not vanish with a folder in a power cut. The parent may not be ours to open.
    /// </summary>
    private static void SyncFolderNames(string root)
    {
        Fsync.Directory(root);
        try
        {
            if (Path.GetDirectoryName(root) is { } parent)
            {
                Fsync.Directory(parent);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The spool folder existed before (an operator made it or mounted it); its name is not this start's to keep.
        }
    }

    /// <summary>Reads the accepted messages of a spool without changing anything (for <c>queue list</c> beside a running instance).</summary>
    public static List<QueuedMessage> ReadAll(string directory)
    {
        // The log first, the files second: a running instance moves a message from the log to its files, so in
        // this order a message being moved is seen in one place or both (files win), never in neither.
        var found = new Dictionary<string, QueuedMessage>(StringComparer.Ordinal);
        foreach (var (message, _, _) in IntakeLog.ReadOffline(Path.Combine(directory, IntakeLog.Folder)))
        {
            found[message.Id] = message;
        }

        string queue = Path.Combine(directory, QueueFolder);
        if (Directory.Exists(queue))
        {
            foreach (string state in Directory.EnumerateFiles(queue, "*" + StateExtension))
            {
                if (TryRead(state) is { } message)
                {
                    found[message.Id] = message;
                }
            }
        }

        var messages = found.Values.ToList();
        messages.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return messages;
    }

    public static QueuedMessage? ReadOne(string directory, string id) =>
        !QueueId.IsValid(id) ? null
        : TryRead(Path.Combine(directory, QueueFolder, id + StateExtension))
            ?? IntakeLog.ReadOffline(Path.Combine(directory, IntakeLog.Folder)).Select(m => m.Message).FirstOrDefault(m => m.Id == id);

    /// <summary>A message's content read without changing anything (for <c>queue show</c>); null when it is not in the spool.</summary>
    public static byte[]? ReadContentOffline(string directory, string id)
    {
        if (!QueueId.IsValid(id))
        {
            return null;
        }

        try
        {
            return File.ReadAllBytes(Path.Combine(directory, QueueFolder, id + ContentExtension));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return IntakeLog.ReadContentOffline(Path.Combine(directory, IntakeLog.Folder), id);
        }
    }

    private string ContentPath(string id) => Path.Combine(_queue, id + ContentExtension);

    /// <summary>
    /// Writes a new message durably. Returns <see cref="EnqueueStatus.Accepted"/> only after the content,
    /// the state and the folder entry naming them are on the device; otherwise nothing is left behind.
    /// </summary>
    /// <param name="ignoreLimit">For notifications: a bounce is small and must not be lost because the spool is full.</param>
    public async Task<EnqueueResult> WriteAsync(QueuedMessage message, IReadOnlyList<ReadOnlyMemory<byte>> content, bool ignoreLimit, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(content);
        ct.ThrowIfCancellationRequested();
        byte[] state = JsonSerializer.SerializeToUtf8Bytes(message, SpoolJson.Default.QueuedMessage);
        long charge = message.Size + state.Length;
        if (!TryCharge(charge, ignoreLimit))
        {
            return new EnqueueResult(EnqueueStatus.SpoolFull, null, $"spool holds {Bytes} of {_maxBytes} bytes");
        }

        try
        {
            // Not cancelled by ct: the batch thread writes the session's buffers, so they must outlive the write,
            // which takes one flush at most.
            await Intake.AppendAsync(message.Id, state, content).ConfigureAwait(false);
            lock (_lock)
            {
                _charged[message.Id] = charge;
            }

            return new EnqueueResult(EnqueueStatus.Accepted, message.Id, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Add(ref _bytes, -charge);
            QueueLog.WriteFailed(_logger, message.Id, e.Message);
            return new EnqueueResult(IsOutOfSpace(e, charge) ? EnqueueStatus.DiskFull : EnqueueStatus.Failed, null, e.Message);
        }
    }

    /// <summary>
    /// Writes a message's files durably: the state (and the content, when given) in <c>tmp/</c>, synced, renamed
    /// into <c>queue/</c> content first, the folder synced. A move out of the log that fails leaves nothing of
    /// it behind (the message stays in the log); a state update that fails leaves the old state or the new one.
    /// </summary>
    private async Task WriteFilesAsync(string id, byte[]? content, byte[] state, CancellationToken ct)
    {
        string tempContent = Path.Combine(_temp, id + ContentExtension);
        string tempState = Path.Combine(_temp, id + StateExtension);
        bool moved = false;
        try
        {
            using (SafeFileHandle? contentFile = content is null ? null : await WriteAsync(tempContent, [content], content.Length, ct).ConfigureAwait(false))
            using (SafeFileHandle stateFile = await WriteAsync(tempState, [state], state.Length, ct).ConfigureAwait(false))
            {
                await _queueSync.SyncFilesAsync(contentFile is null ? [stateFile] : [contentFile, stateFile]).ConfigureAwait(false);
            }

            if (content is not null)
            {
                // Overwriting: a copy left by an earlier move that failed half-way must not block this one for good.
                File.Move(tempContent, ContentPath(id), overwrite: true);
                moved = true;
            }

            File.Move(tempState, StatePath(id), overwrite: true);
            await _queueSync.SyncDirectoryAsync().ConfigureAwait(false);
        }
        catch
        {
            TryDelete(tempContent);
            TryDelete(tempState);
            if (moved)
            {
                // Not known durable: the message stays where it was (the log), so these copies must go.
                TryDelete(StatePath(id));
                TryDelete(ContentPath(id));
            }

            throw;
        }
    }

    /// <summary>Replaces a message's state file (after a delivery attempt). Atomic: a crash leaves the old or the new state.</summary>
    public async Task SaveStateAsync(QueuedMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        byte[] state = JsonSerializer.SerializeToUtf8Bytes(message, SpoolJson.Default.QueuedMessage);
        // Waiting for a retry and still in the log: to files of its own, so the log's segments can go.
        byte[]? content = Intake.ReadContent(message.Id);
        await WriteFilesAsync(message.Id, content, state, ct).ConfigureAwait(false);
        if (content is not null)
        {
            // Flushed now, not with the next message: until then a reader of the spool (queue list) would find the
            // message in the log as well as in its files, and once its files went, in the log alone.
            await Intake.TryResolve(message.Id, now: true)!.ConfigureAwait(false);
        }

        Recharge(message.Id, message.Size + state.Length);
    }

    private void Recharge(string id, long charge)
    {
        lock (_lock)
        {
            if (_charged.TryGetValue(id, out long old))
            {
                Interlocked.Add(ref _bytes, charge - old);
            }

            _charged[id] = charge;
        }
    }

    /// <summary>Removes a message: the state file first, so a crash half-way leaves content that <see cref="Open"/> removes.</summary>
    /// <param name="durable">
    /// Whether to wait until the removal is on the device. A delivered message does not: if a crash undoes its
    /// removal it is delivered again, which at-least-once delivery allows (Postfix does not sync it either), and
    /// the folder's sync is saved for the 250s that wait on it.
    /// </param>
    public async Task RemoveAsync(string id, bool durable)
    {
        if (Intake.TryResolve(id, now: durable) is { } marked)
        {
            if (durable)
            {
                await marked.ConfigureAwait(false);
            }
        }
        else
        {
            File.Delete(StatePath(id));
            File.Delete(ContentPath(id));
            if (durable)
            {
                await _queueSync.SyncDirectoryAsync().ConfigureAwait(false);
            }
        }

        lock (_lock)
        {
            if (_charged.Remove(id, out long charge))
            {
                Interlocked.Add(ref _bytes, -charge);
            }
        }
    }

    public async Task<byte[]> ReadContentAsync(string id, CancellationToken ct) =>
        Intake.ReadContent(id) ?? await File.ReadAllBytesAsync(ContentPath(id), ct).ConfigureAwait(false);

    private string StatePath(string id) => Path.Combine(_queue, id + StateExtension);

    private bool TryCharge(long charge, bool ignoreLimit)
    {
        long after = Interlocked.Add(ref _bytes, charge);
        if (ignoreLimit || after <= _maxBytes)
        {
            return true;
        }

        Interlocked.Add(ref _bytes, -charge);
        return false;
    }

    /// <returns>The open file, for the caller to have synced before it is renamed.</returns>
    private static async Task<SafeFileHandle> WriteAsync(string path, IReadOnlyList<ReadOnlyMemory<byte>> content, long length, CancellationToken ct)
    {
        // Preallocating makes a full disk fail here, before any byte is written, on file systems that support it.
        SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, length);
        try
        {
            await RandomAccess.WriteAsync(handle, content, 0, ct).ConfigureAwait(false);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private List<QueuedMessage> Recover()
    {
        foreach (string debris in Directory.EnumerateFiles(_temp))
        {
            QueueLog.PartialFileRemoved(_logger, debris);
            File.Delete(debris);
        }

        var recovered = new List<QueuedMessage>();
        var contents = new HashSet<string>(StringComparer.Ordinal);
        foreach (string content in Directory.EnumerateFiles(_queue, "*" + ContentExtension))
        {
            contents.Add(Path.GetFileNameWithoutExtension(content));
        }

        foreach (string statePath in Directory.EnumerateFiles(_queue, "*" + StateExtension))
        {
            string id = Path.GetFileNameWithoutExtension(statePath);
            if (!contents.Remove(id))
            {
                // The state is renamed after the content, so its content was never known durable: never accepted.
                QueueLog.PartialFileRemoved(_logger, statePath);
                File.Delete(statePath);
                continue;
            }

            if (TryRead(statePath) is not { } message || message.Id != id)
            {
                // Written whole and synced before its rename, so this is damage, not a crash: keep it for a person.
                string corrupt = Path.Combine(Root, CorruptFolder);
                Directory.CreateDirectory(corrupt);
                File.Move(statePath, Path.Combine(corrupt, id + StateExtension), overwrite: true);
                File.Move(ContentPath(id), Path.Combine(corrupt, id + ContentExtension), overwrite: true);
                QueueLog.CorruptStateMoved(_logger, id, corrupt);
                continue;
            }

            long charge = new FileInfo(ContentPath(id)).Length + new FileInfo(statePath).Length;
            _charged[id] = charge;
            _bytes += charge;
            recovered.Add(message);
        }

        foreach (string orphan in contents)
        {
            // Content renamed, state not yet: the sender never heard 250 for it.
            string path = ContentPath(orphan);
            QueueLog.PartialFileRemoved(_logger, path);
            File.Delete(path);
        }

        Fsync.Directory(_queue);
        recovered.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return recovered;
    }

    private static QueuedMessage? TryRead(string statePath)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(statePath), SpoolJson.Default.QueuedMessage);
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            return null;
        }
    }

    private bool IsOutOfSpace(Exception e, long needed)
    {
        // The spill folder's list of out-of-space errors (ENOSPC, EDQUOT and their Windows codes).
        if (SpillFolder.IsOutOfSpace(e))
        {
            return true;
        }

        // A refused preallocation carries no errno (measured on tmpfs: a plain IOException), so ask the file system.
        try
        {
            return e is IOException && new DriveInfo(Root).AvailableFreeSpace < needed;
        }
        catch (Exception probe) when (probe is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Debris in tmp/ is removed at the next start.
        }
    }
}
