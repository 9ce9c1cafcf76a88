using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace SmtpAmpProxy.Smtp.Buffers;

/// <summary>
/// The bytes of one message. Writes go to one pooled array up to a threshold, then to a file in a
/// <see cref="SpillFolder"/> that has no name once opened, so a crash or a forgotten Dispose never leaves mail
/// on disk. A spilled message is read back through a memory-mapped view: a 20 MB message costs page cache, not
/// heap. A spill that fails (full disk, quota, I/O error) is not thrown at the reader: the buffer stops storing,
/// says <see cref="StorageFailed"/>, and the session answers 452 4.3.1 at the end of the data.
/// </summary>
public sealed class MessageBuffer : IDisposable
{
    private const int InitialArrayBytes = 16 * 1024;

    private readonly int _threshold;
    private readonly SpillFolder _folder;
    private byte[]? _array;
    private FileStream? _file;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private MappedMemoryManager? _mapped;
    private long _length;
    private bool _disposed;

    public MessageBuffer(int memoryThresholdBytes, string? tempDirectory = null)
        : this(memoryThresholdBytes, new SpillFolder(tempDirectory))
    {
    }

    public MessageBuffer(int memoryThresholdBytes, SpillFolder folder)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(memoryThresholdBytes);
        ArgumentNullException.ThrowIfNull(folder);
        _threshold = memoryThresholdBytes;
        _folder = folder;
    }

    public long Length => _length;

    /// <summary>True once the message has moved to a temp file.</summary>
    public bool IsSpilled => _file is not null;

    /// <summary>The spill file could not be written; what was stored is incomplete and must not be relayed.</summary>
    public bool StorageFailed => StorageError is not null;

    /// <summary>Why the spill failed (the operating system's message), for the log; null while all is well.</summary>
    public string? StorageError { get; private set; }

    /// <summary>The failure was a full disk or quota (as opposed to another I/O error).</summary>
    public bool StorageFull { get; private set; }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (bytes.IsEmpty)
        {
            return;
        }

        if (_mapped is not null)
        {
            throw new InvalidOperationException("The message was already read; it can no longer grow.");
        }

        var newLength = _length + bytes.Length;
        if (StorageFailed)
        {
            // Counted, not stored: the reader reads on to the end of the data, then the message is refused.
            _length = newLength;
            return;
        }

        if (_file is null && newLength <= _threshold)
        {
            EnsureArray((int)newLength);
            bytes.CopyTo(_array.AsSpan((int)_length));
        }
        else
        {
            try
            {
                if (_file is null)
                {
                    Spill();
                }

                _file!.Write(bytes);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Fail(e);
            }
        }

        _length = newLength;
    }

    /// <summary>
    /// Pushes buffered spill bytes to the file, where a full disk shows up if the last writes only filled the
    /// buffer. Call at the end of the data, before deciding the reply. False: <see cref="StorageFailed"/>.
    /// </summary>
    public bool Seal()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_file is not null && !StorageFailed && _mapped is null)
        {
            try
            {
                _file.Flush();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Fail(e);
            }
        }

        return !StorageFailed;
    }

    public ReadOnlyMemory<byte> GetMemory()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (StorageFailed)
        {
            throw new InvalidOperationException("The spill file could not be written; the message is incomplete.");
        }

        if (_file is null)
        {
            return _array is null ? ReadOnlyMemory<byte>.Empty : _array.AsMemory(0, (int)_length);
        }

        if (_mapped is null)
        {
            if (_length > int.MaxValue)
            {
                throw new InvalidOperationException("A message over 2 GB cannot be viewed as one block of memory.");
            }

            _file.Flush();
            _map = MemoryMappedFile.CreateFromFile(_file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            _view = _map.CreateViewAccessor(0, _length, MemoryMappedFileAccess.Read);
            _mapped = new MappedMemoryManager(_view, (int)_length);
        }

        return _mapped.Memory;
    }

    /// <summary>
    /// Says a range of <see cref="GetMemory"/> is not needed again soon: for a spilled message its pages leave
    /// the process's resident set (they stay in the page cache and are read back if touched). For a message
    /// in memory, or a range from elsewhere, nothing happens. Reading the range afterwards stays correct.
    /// </summary>
    public void ReleaseResident(ReadOnlyMemory<byte> range)
    {
        if (_disposed || _mapped is null)
        {
            return;
        }

        if (MemoryMarshal.TryGetMemoryManager(range, out MappedMemoryManager? manager, out int start, out int length)
            && ReferenceEquals(manager, _mapped))
        {
            _mapped.ReleasePages(start, length);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _mapped?.Release();
        _view?.Dispose();
        _map?.Dispose();
        try
        {
            _file?.Dispose();
        }
        catch (IOException)
        {
            // A message abandoned mid-DATA on a full disk: its last buffered bytes cannot be flushed, and
            // nobody wants them. The descriptor is closed regardless.
        }
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = null;
        }
    }

    private void EnsureArray(int needed)
    {
        if (_array is not null && _array.Length >= needed)
        {
            return;
        }

        var size = Math.Max(InitialArrayBytes, _array?.Length * 2 ?? 0);
        while (size < needed)
        {
            size *= 2;
        }

        size = Math.Min(size, Math.Max(needed, _threshold));
        var next = ArrayPool<byte>.Shared.Rent(size);
        if (_array is not null)
        {
            _array.AsSpan(0, (int)_length).CopyTo(next);
            ArrayPool<byte>.Shared.Return(_array);
        }

        _array = next;
    }

    private void Spill()
    {
        _file = _folder.Create(bufferSize: 64 * 1024);
        if (_array is not null)
        {
            _file.Write(_array, 0, (int)_length);
            ArrayPool<byte>.Shared.Return(_array);
            _array = null;
        }
    }

    private void Fail(Exception e)
    {
        StorageError = e.Message;
        StorageFull = SpillFolder.IsOutOfSpace(e);
        _folder.CountWriteFailure();
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = null;
        }

        try
        {
            _file?.Dispose();
        }
        catch (IOException)
        {
            // Disposing flushes what is still buffered, which fails the same way; the file has no name, so
            // closing it (which the runtime does even when the flush throws) is all that is needed.
        }

        _file = null;
    }
}
