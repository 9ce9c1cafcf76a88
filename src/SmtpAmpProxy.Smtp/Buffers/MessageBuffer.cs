using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Smtp;

/// <summary>
/// The bytes of one message. Writes go to one pooled array up to a threshold, then to a temp file opened
/// with <see cref="FileOptions.DeleteOnClose"/>, so a crash or a forgotten Dispose never leaves mail on disk.
/// A spilled message is read back through a memory-mapped view: a 20 MB message costs page cache, not heap.
/// </summary>
public sealed class MessageBuffer : IDisposable
{
    private const int InitialArrayBytes = 16 * 1024;

    private readonly int _threshold;
    private readonly string _tempDirectory;
    private byte[]? _array;
    private FileStream? _file;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private MappedMemoryManager? _mapped;
    private long _length;
    private bool _disposed;

    public MessageBuffer(int memoryThresholdBytes, string? tempDirectory = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(memoryThresholdBytes);
        _threshold = memoryThresholdBytes;
        _tempDirectory = string.IsNullOrEmpty(tempDirectory) ? Path.GetTempPath() : tempDirectory;
    }

    public long Length => _length;

    /// <summary>True once the message has moved to a temp file.</summary>
    public bool IsSpilled => _file is not null;

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
        if (_file is null && newLength <= _threshold)
        {
            EnsureArray((int)newLength);
            bytes.CopyTo(_array.AsSpan((int)_length));
        }
        else
        {
            if (_file is null)
            {
                Spill();
            }

            _file!.Write(bytes);
        }

        _length = newLength;
    }

    public ReadOnlyMemory<byte> GetMemory()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
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
        _file?.Dispose();
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
        Directory.CreateDirectory(_tempDirectory);
        var path = Path.Combine(_tempDirectory, $"smtp-{Guid.NewGuid():N}.msg");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            Options = FileOptions.DeleteOnClose,
            BufferSize = 64 * 1024,
        };
        if (!OperatingSystem.IsWindows())
        {
            // Mail is private: readable by the service account only, whatever the umask.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        _file = new FileStream(path, options);
        if (_array is not null)
        {
            _file.Write(_array, 0, (int)_length);
            ArrayPool<byte>.Shared.Return(_array);
            _array = null;
        }
    }
}
