using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace SmtpAmpProxy.Queue.Spool;

/// <summary>
/// Where a newly accepted message becomes durable: append-only segment files in <c>intake/</c>. A record is
/// a message (its state and content) or the mark that a message left the log, framed by its length and its
/// CRC-32 so that a write torn by a crash is told from a whole one. One thread of its own appends whatever
/// the sessions handed in since its last write with one <c>pwritev</c> and one <c>fdatasync</c>: fifty
/// sessions ending DATA together cost one flush of the device and no file created, renamed or unlinked.
/// With a file per message those metadata steps, each waiting for the file system's journal, were where
/// the time went (on the project's 2-core machine, 0.5–1 ms a call while another message was being synced).
/// <para>
/// A message leaves the log when its first attempt ends: delivered or failed (a mark), or moved to files of
/// its own by <see cref="MessageSpool"/> to wait for its retry (then a mark). Marks are appended with the
/// next batch, so a crash can forget only the last few milliseconds of them, and those messages are
/// delivered again, as at-least-once delivery allows. A segment is deleted once every message in it and in
/// every older segment has left, so a mark is never lost before the record it cancels.
/// </para>
/// </summary>
internal sealed class IntakeLog : IDisposable
{
    public const string Folder = "intake";

    /// <summary>A segment takes no new batch past this size; the log moves on to a new one.</summary>
    internal const long DefaultSegmentBytes = 64L << 20;

    /// <summary>A segment every message has left is replaced past this size, so a quiet queue gives its disk space back.</summary>
    internal const long RecycleBytes = 1L << 20;

    /// <summary>How long a mark may wait for a message's flush before it is flushed on its own.</summary>
    internal static readonly TimeSpan LazyFlush = TimeSpan.FromMilliseconds(250);

    private const string Extension = ".log";
    private const int HeaderBytes = 12;
    private const int MessagePrefixBytes = HeaderBytes + sizeof(uint);
    private const byte MessageKind = 1;
    private const byte ResolvedKind = 2;

    // A state names at most Limits:MaxRecipients recipients with their last replies; far below this.
    private const int MaxStateBytes = 16 << 20;

    private readonly string _folder;
    private readonly long _segmentBytes;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Location> _locations = new(StringComparer.Ordinal);

    // Oldest first; the last one is appended to. Touched only by the committing thread once open.
    private readonly List<Segment> _segments = [];
    private BatchThread<Request>? _thread;
    // A disk that stays full fails a retry of the marks every LazyFlush: one line in ten seconds says it.
    private static readonly TimeSpan FailureLogInterval = TimeSpan.FromSeconds(10);
    private long _failureLogged = long.MinValue / 2;
    private bool _rollBeforeNextBatch;
    private bool _lastWriteFailed;

    private IntakeLog(string folder, long segmentBytes, ILogger logger)
    {
        _folder = folder;
        _segmentBytes = segmentBytes;
        _logger = logger;
    }

    /// <summary>Opens (creating if needed) the log, cuts off what a crash left half-written, and returns the messages still in it.</summary>
    public static IntakeLog Open(string folder, long segmentBytes, ILogger logger, out List<QueuedMessage> recovered)
    {
        Directory.CreateDirectory(folder);
        var log = new IntakeLog(folder, segmentBytes, logger);
        try
        {
            recovered = log.Recover();
            log.Roll();
            log.Retire();
            log._thread = new BatchThread<Request>("spool intake", log.Commit, LazyFlush);
        }
        catch
        {
            log.Dispose();
            throw;
        }

        return log;
    }

    /// <summary>Appends a message; the task ends once it is on the device, the moment the sender may hear 250.</summary>
    public Task AppendAsync(string id, byte[] state, IReadOnlyList<ReadOnlyMemory<byte>> content)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(content);
        long contentLength = 0;
        var crc = new Crc32();
        Span<byte> stateLength = stackalloc byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(stateLength, (uint)state.Length);
        crc.Append(stateLength);
        crc.Append(state);
        foreach (ReadOnlyMemory<byte> segment in content)
        {
            crc.Append(segment.Span);
            contentLength += segment.Length;
        }

        long payload = sizeof(uint) + state.Length + contentLength;
        if (payload > uint.MaxValue)
        {
            throw new IOException($"a message of {contentLength} bytes does not fit an intake record");
        }

        byte[] prefix = new byte[MessagePrefixBytes];
        WriteHeader(prefix, MessageKind, (uint)payload, crc.GetCurrentHashAsUInt32());
        stateLength.CopyTo(prefix.AsSpan(HeaderBytes));
        var buffers = new List<ReadOnlyMemory<byte>>(content.Count + 2) { prefix, state };
        buffers.AddRange(content);
        return Enqueue(new Request(id, buffers, HeaderBytes + payload, ContentOffset: MessagePrefixBytes + state.Length, contentLength));
    }

    /// <summary>
    /// Marks a message as gone from the log (delivered, failed, deleted, or moved to its own files); null when it
    /// is not in the log. It is gone for readers at once. With <paramref name="now"/> the task ends when the mark
    /// is on the device; without, the mark waits for the next message's flush, or <see cref="LazyFlush"/> on a
    /// quiet queue, so that a busy queue's marks cost no flush of their own.
    /// </summary>
    public Task? TryResolve(string id, bool now)
    {
        Location location;
        lock (_lock)
        {
            if (!_locations.Remove(id, out location))
            {
                return null;
            }
        }

        byte[] record = ResolvedRecord(id);
        return Enqueue(new Request(id, [record], record.Length, ContentOffset: -1, ContentLength: 0) { Leaving = location.Segment }, wake: now);
    }

    /// <summary>The content of a message in the log, or null when it is not (or no longer) there.</summary>
    /// <remarks>A plain pread: the content was just written, so it comes from the page cache in microseconds.</remarks>
    public byte[]? ReadContent(string id)
    {
        Location location;
        lock (_lock)
        {
            if (!_locations.TryGetValue(id, out location))
            {
                return null;
            }
        }

        // The segment stays while the message is in it: only its own resolution lets the segment go.
        byte[] content = new byte[location.ContentLength];
        return ReadFully(location.Segment.Handle, content, location.ContentOffset) == content.Length
            ? content
            : throw new IOException($"{location.Segment.Path} ends inside message {id}");
    }

    public void Dispose()
    {
        // The thread writes what is waiting (marks included) before it stops.
        _thread?.Dispose();
        _thread = null;
        foreach (Segment segment in _segments)
        {
            segment.Handle.Dispose();
        }
    }

    /// <summary>The messages in the log of a spool, read without changing anything (beside a running instance or none).</summary>
    public static List<(QueuedMessage Message, string Segment, long ContentOffset)> ReadOffline(string folder)
    {
        var found = new Dictionary<string, (QueuedMessage, string, long)>(StringComparer.Ordinal);
        var resolved = new HashSet<string>(StringComparer.Ordinal);
        if (!Directory.Exists(folder))
        {
            return [];
        }

        foreach (string path in SegmentFiles(folder))
        {
            try
            {
                using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                Scan(handle, RandomAccess.GetLength(handle),
                    (message, offset) => found[message.Id] = (message, path, offset),
                    id => resolved.Add(id));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Retired by the running instance while being read (its messages had all left), or unreadable to
                // this user: a listing shows what it can read.
            }
        }

        return found.Where(kv => !resolved.Contains(kv.Key)).Select(kv => kv.Value).ToList();
    }

    /// <summary>The content of a message in the log of a spool, read without changing anything; null when it is not there.</summary>
    public static byte[]? ReadContentOffline(string folder, string id)
    {
        foreach ((QueuedMessage message, string path, long offset) in ReadOffline(folder))
        {
            if (message.Id == id)
            {
                try
                {
                    using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    byte[] content = new byte[message.Size];
                    return ReadFully(handle, content, offset) == content.Length ? content : null;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Delivered and its segment retired since the scan: no longer in the spool.
                    return null;
                }
            }
        }

        return null;
    }

    /// <summary>Marks a message gone in the log of a spool nobody runs (the caller holds its lock): a segment of one mark.</summary>
    public static bool ResolveOffline(string folder, string id)
    {
        if (!ReadOffline(folder).Any(m => m.Message.Id == id))
        {
            return false;
        }

        long number = SegmentFiles(folder).Select(NumberOf).DefaultIfEmpty(0).Max() + 1;
        byte[] record = ResolvedRecord(id);
        using (SafeFileHandle handle = File.OpenHandle(SegmentPath(folder, number), FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(handle, record, 0);
            Fsync.File(handle);
        }

        Fsync.Directory(folder);
        return true;
    }

    private static byte[] ResolvedRecord(string id)
    {
        byte[] name = Encoding.ASCII.GetBytes(id);
        byte[] record = new byte[HeaderBytes + name.Length];
        WriteHeader(record, ResolvedKind, (uint)name.Length, Crc32.HashToUInt32(name));
        name.CopyTo(record, HeaderBytes);
        return record;
    }

    private static void WriteHeader(Span<byte> header, byte kind, uint payloadLength, uint crc)
    {
        header[..4].Clear();
        header[0] = kind;
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], payloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], crc);
    }

    private Task Enqueue(Request request, bool wake = true)
    {
        (_thread ?? throw new ObjectDisposedException(nameof(IntakeLog))).Add(request, wake);
        return request.Done.Task;
    }

    private void Commit(List<Request> batch)
    {
        long bytes = batch.Sum(r => r.Bytes);
        lock (_lock)
        {
            // A message whose mark is in this batch no longer holds its segment: if the segment is deleted below,
            // the message is gone with it; if not, the mark is written below (or again, after a failure).
            foreach (Request request in batch)
            {
                if (request.Leaving is { } leaving && !request.Counted)
                {
                    leaving.Live--;
                    request.Counted = true;
                }
            }
        }

        Segment segment = _segments[^1];
        long start = segment.Length;
        bool flushing = false;
        try
        {
            if (_rollBeforeNextBatch || (segment.Length > 0 && segment.Length + bytes > _segmentBytes)
                || (segment.Live == 0 && segment.Length > 0 && (_lastWriteFailed || segment.Length >= RecycleBytes)))
            {
                // Retiring before writing gives the space of the segments every message has left to this batch,
                // which is what a full disk needs to take the next message once the queue has drained.
                segment = Roll();
                Retire();
                start = segment.Length;
            }

            var buffers = new List<ReadOnlyMemory<byte>>();
            batch.ForEach(r => buffers.AddRange(r.Buffers));
            RandomAccess.Write(segment.Handle, buffers, start);
            flushing = true;
            Fsync.Data(segment.Handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Fail(batch, segment, start, flushing, e);
            return;
        }

        _lastWriteFailed = false;
        lock (_lock)
        {
            long offset = start;
            foreach (Request request in batch)
            {
                if (request.ContentOffset >= 0)
                {
                    _locations[request.Id] = new Location(segment, offset + request.ContentOffset, request.ContentLength);
                    segment.Live++;
                }

                offset += request.Bytes;
            }

            segment.Length = offset;
        }

        batch.ForEach(r => r.Done.SetResult());
        Retire();
    }

    private void Fail(List<Request> batch, Segment segment, long start, bool flushing, Exception e)
    {
        // Nothing of this batch was acknowledged: cut it off so no restart finds it. A failed write cut back
        // cleanly leaves the segment as it was, and the log goes on in it (a full disk must not leave a new empty
        // segment per refused message); after a failed flush the kernel's copy of the file can't be trusted to
        // match the device, so the log goes on in a new one.
        bool cut = true;
        try
        {
            RandomAccess.SetLength(segment.Handle, start);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The records' CRCs still tell a restart where the whole ones end.
            cut = false;
        }

        _rollBeforeNextBatch = flushing || !cut;
        _lastWriteFailed = true;
        if (Environment.TickCount64 - _failureLogged >= (long)FailureLogInterval.TotalMilliseconds)
        {
            _failureLogged = Environment.TickCount64;
            QueueLog.IntakeWriteFailed(_logger, segment.Path, e.Message);
        }

        foreach (Request request in batch)
        {
            if (request.Leaving is null || !TryRetry(request))
            {
                request.Done.SetException(e);
            }
        }
    }

    /// <summary>
    /// Hands a mark back for the next batch: written twice it does no harm, lost it would bring its message back
    /// at the next start, delivered a second time.
    /// </summary>
    private bool TryRetry(Request mark)
    {
        try
        {
            _thread?.Add(mark, wake: false);
            return _thread is not null;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Starts a new segment; its name is on the device before anything in it is acknowledged.</summary>
    private Segment Roll()
    {
        long number = _segments.Count > 0 ? _segments[^1].Number + 1 : 1;
        string path = SegmentPath(_folder, number);
        SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            Fsync.Directory(_folder);
        }
        catch
        {
            handle.Dispose();
            File.Delete(path);
            throw;
        }

        var segment = new Segment(number, path, handle);
        lock (_lock)
        {
            _segments.Add(segment);
        }

        _rollBeforeNextBatch = false;
        return segment;
    }

    /// <summary>Deletes the oldest segments while every message in them has left (never the one appended to).</summary>
    private void Retire()
    {
        bool retired = false;
        while (true)
        {
            Segment oldest;
            lock (_lock)
            {
                if (_segments.Count < 2 || _segments[0].Live > 0)
                {
                    break;
                }

                oldest = _segments[0];
                _segments.RemoveAt(0);
            }

            oldest.Handle.Dispose();
            try
            {
                File.Delete(oldest.Path);
                retired = true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                QueueLog.IntakeWriteFailed(_logger, oldest.Path, e.Message);
            }
        }

        if (retired)
        {
            try
            {
                // A retired segment that came back after a crash would bring back messages whose marks went with it.
                Fsync.Directory(_folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                QueueLog.IntakeWriteFailed(_logger, _folder, e.Message);
            }
        }
    }

    private List<QueuedMessage> Recover()
    {
        var messages = new Dictionary<string, (QueuedMessage Message, Segment Segment, long Offset)>(StringComparer.Ordinal);
        var resolved = new HashSet<string>(StringComparer.Ordinal);
        string[] paths = [.. SegmentFiles(_folder)];
        foreach (string path in paths)
        {
            var segment = new Segment(NumberOf(path), path, File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read));
            _segments.Add(segment);
            long length = RandomAccess.GetLength(segment.Handle);
            long whole = Scan(segment.Handle, length, (message, offset) => messages[message.Id] = (message, segment, offset), id => resolved.Add(id),
                (offset, bytes) => QueueLog.IntakeRecordUnreadable(_logger, path, offset, Preserve(segment, offset, bytes)));
            if (whole == length)
            {
                segment.Length = whole;
                continue;
            }

            // Nothing is thrown away: what does not read goes to corrupt/ for a person (unless it is only zeros).
            string? kept = Preserve(segment, whole, length - whole);
            if (path == paths[^1])
            {
                // The newest segment: its last batch was being written when the process stopped, never acknowledged.
                QueueLog.IntakeTailCut(_logger, path, length - whole, kept ?? "nothing but zeros");
                RandomAccess.SetLength(segment.Handle, whole);
                Fsync.Data(segment.Handle);
            }
            else
            {
                // An older segment was whole and flushed when the log moved on: this is damage, not a crash.
                QueueLog.IntakeDamaged(_logger, path, whole, kept ?? "nothing but zeros");
            }

            segment.Length = whole;
        }

        var recovered = new List<QueuedMessage>();
        foreach ((string id, (QueuedMessage message, Segment segment, long offset)) in messages)
        {
            if (!resolved.Contains(id))
            {
                _locations[id] = new Location(segment, offset, message.Size);
                segment.Live++;
                recovered.Add(message);
            }
        }

        return recovered;
    }

    /// <summary>Copies a stretch of a segment to <c>corrupt/</c>; returns the copy's path, or null when the stretch is all zeros.</summary>
    private string? Preserve(Segment segment, long offset, long length)
    {
        string corrupt = Path.Combine(Path.GetDirectoryName(_folder)!, "corrupt");
        Directory.CreateDirectory(corrupt);
        string copy = Path.Combine(corrupt, $"{Path.GetFileNameWithoutExtension(segment.Path)}-{offset.ToString(CultureInfo.InvariantCulture)}{Extension}");
        byte[] chunk = new byte[64 << 10];
        bool zeros = true;
        using (SafeFileHandle target = File.OpenHandle(copy, FileMode.Create, FileAccess.Write))
        {
            for (long at = offset; at < offset + length;)
            {
                int read = ReadFully(segment.Handle, chunk.AsSpan(0, (int)Math.Min(chunk.Length, offset + length - at)), at);
                if (read <= 0)
                {
                    break;
                }

                zeros &= chunk.AsSpan(0, read).IndexOfAnyExcept((byte)0) < 0;
                RandomAccess.Write(target, chunk.AsSpan(0, read), at - offset);
                at += read;
            }

            Fsync.File(target);
        }

        if (zeros)
        {
            // What a file system leaves past the end of a crashed write: nothing for a person to look at.
            File.Delete(copy);
            return null;
        }

        return copy;
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the file ends (one pread may return less on some file systems).</summary>
    private static int ReadFully(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int read = RandomAccess.Read(handle, buffer[total..], offset + total);
            if (read <= 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>
    /// Reads the whole records from the start of a segment, calling back for each message (with where its
    /// content starts) and each mark; returns where the whole records end. Linear in the segment's length.
    /// </summary>
    private static long Scan(SafeFileHandle handle, long length, Action<QueuedMessage, long> onMessage, Action<string> onResolved,
        Action<long, long>? onDamaged = null)
    {
        byte[] header = new byte[MessagePrefixBytes];
        byte[] chunk = new byte[64 << 10];
        long offset = 0;
        while (offset + HeaderBytes <= length)
        {
            if (ReadFully(handle, header.AsSpan(0, HeaderBytes), offset) < HeaderBytes)
            {
                break;
            }

            byte kind = header[0];
            uint payload = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
            uint expected = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
            if (kind is not (MessageKind or ResolvedKind) || header[1] != 0 || header[2] != 0 || header[3] != 0
                || offset + HeaderBytes + payload > length)
            {
                break;
            }

            // What a record needs besides its content: the state of a message, the id of a mark.
            int leading = kind == ResolvedKind ? (int)Math.Min(payload, 64) : sizeof(uint);
            if (payload < leading || (kind == ResolvedKind && payload > 64))
            {
                break;
            }

            byte[] head = new byte[leading];
            if (ReadFully(handle, head, offset + HeaderBytes) < leading)
            {
                break;
            }

            byte[]? state = null;
            if (kind == MessageKind)
            {
                uint stateLength = BinaryPrimitives.ReadUInt32LittleEndian(head);
                if (stateLength > MaxStateBytes || sizeof(uint) + stateLength > payload)
                {
                    break;
                }

                state = new byte[stateLength];
                if (ReadFully(handle, state, offset + MessagePrefixBytes) < state.Length)
                {
                    break;
                }
            }

            var crc = new Crc32();
            crc.Append(head);
            long position = offset + HeaderBytes + head.Length;
            long end = offset + HeaderBytes + payload;
            while (position < end)
            {
                int read = ReadFully(handle, chunk.AsSpan(0, (int)Math.Min(chunk.Length, end - position)), position);
                if (read <= 0)
                {
                    break;
                }

                crc.Append(chunk.AsSpan(0, read));
                position += read;
            }

            if (position != end || crc.GetCurrentHashAsUInt32() != expected)
            {
                break;
            }

            if (kind == ResolvedKind)
            {
                onResolved(Encoding.ASCII.GetString(head));
            }
            else if (TryParse(state!) is { } message && message.Size == payload - sizeof(uint) - state!.Length)
            {
                onMessage(message, offset + MessagePrefixBytes + state.Length);
            }
            else
            {
                // Whole by its CRC, so not a torn write but a record this version can't read: skip it, keep the rest.
                onDamaged?.Invoke(offset, HeaderBytes + payload);
            }

            offset = end;
        }

        return offset;
    }

    private static QueuedMessage? TryParse(byte[] state)
    {
        try
        {
            return JsonSerializer.Deserialize(state, SpoolJson.Default.QueuedMessage);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static IEnumerable<string> SegmentFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*" + Extension).Where(p => NumberOf(p) > 0).Order(StringComparer.Ordinal);

    private static long NumberOf(string path) =>
        long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : 0;

    private static string SegmentPath(string folder, long number) =>
        Path.Combine(folder, number.ToString("D16", CultureInfo.InvariantCulture) + Extension);

    private sealed class Segment(long number, string path, SafeFileHandle handle)
    {
        public long Number { get; } = number;

        public string Path { get; } = path;

        public SafeFileHandle Handle { get; } = handle;

        /// <summary>Bytes of whole, flushed records.</summary>
        public long Length { get; set; }

        /// <summary>Messages in this segment that have not left the log.</summary>
        public int Live { get; set; }
    }

    private readonly record struct Location(Segment Segment, long ContentOffset, long ContentLength);

    /// <param name="ContentOffset">For a message, where its content starts from the record's start; -1 for a mark.</param>
    private sealed record Request(string Id, List<ReadOnlyMemory<byte>> Buffers, long Bytes, long ContentOffset, long ContentLength)
    {
        /// <summary>For a mark, the segment its message was in.</summary>
        public Segment? Leaving { get; init; }

        /// <summary>The mark's message no longer counts in <see cref="Leaving"/> (done once, however often it is written).</summary>
        public bool Counted { get; set; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
