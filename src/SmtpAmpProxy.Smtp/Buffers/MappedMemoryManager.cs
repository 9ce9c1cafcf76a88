using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SmtpAmpProxy.Smtp.Buffers;

/// <summary>A read-only view of a memory-mapped file as <see cref="Memory{T}"/>.</summary>
internal sealed class MappedMemoryManager : MemoryManager<byte>
{
    private const int MadviseDontNeed = 4;

    private readonly MemoryMappedViewAccessor _view;
    private readonly nint _address;
    private readonly int _length;
    private bool _released;

    public MappedMemoryManager(MemoryMappedViewAccessor view, int length)
    {
        _view = view;
        _length = length;
        var added = false;
        view.SafeMemoryMappedViewHandle.DangerousAddRef(ref added);
        // The view may start before the requested offset (page alignment); PointerOffset skips the gap.
        _address = view.SafeMemoryMappedViewHandle.DangerousGetHandle() + (nint)view.PointerOffset;
    }

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_released, this);
        if (_length == 0)
        {
            return Span<byte>.Empty;
        }

        // The project compiles without unsafe blocks; a byref at the mapped address is built from a null
        // byref plus the address, which is what a pointer cast would produce.
        ref var start = ref Unsafe.AddByteOffset(ref Unsafe.NullRef<byte>(), _address);
        return MemoryMarshal.CreateSpan(ref start, _length);
    }

    /// <summary>
    /// A <see cref="MemoryHandle"/> must carry a raw pointer, which needs unsafe code this project does not
    /// compile. Nothing on Linux pins for socket, TLS or file writes (they copy from the span), so refusing
    /// loudly is better than a handle with a null pointer.
    /// </summary>
    public override MemoryHandle Pin(int elementIndex = 0) =>
        throw new NotSupportedException("A mapped message cannot be pinned; write it through its span.");

    public override void Unpin()
    {
    }

    /// <summary>
    /// Drops the pages of a range from this process's resident set (Linux madvise MADV_DONTNEED). The
    /// mapping is a read-only view of a file, so the bytes stay in the page cache and a later read simply
    /// faults them back in: correctness never depends on it. Without it, 50 concurrent 10 MB messages keep
    /// every page they have touched mapped, and the proxy's RSS grows by the sum of the messages in flight.
    /// </summary>
    internal void ReleasePages(int offset, int length)
    {
        if (_released || length <= 0 || !OperatingSystem.IsLinux())
        {
            return;
        }

        // Only whole pages inside the range: a page shared with bytes still wanted stays.
        var page = (nint)Environment.SystemPageSize;
        var start = (_address + offset + page - 1) & ~(page - 1);
        var end = (_address + offset + length) & ~(page - 1);
        if (end > start)
        {
            _ = Madvise(start, (nuint)(end - start), MadviseDontNeed);
        }
    }

    internal void Release()
    {
        if (!_released)
        {
            _released = true;
            _view.SafeMemoryMappedViewHandle.DangerousRelease();
        }
    }

    protected override void Dispose(bool disposing) => Release();

    [DllImport("libc", EntryPoint = "madvise")]
    private static extern int Madvise(nint address, nuint length, int advice);
}
