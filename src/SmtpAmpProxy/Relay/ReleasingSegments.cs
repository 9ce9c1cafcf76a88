using SmtpAmpProxy.Smtp.Buffers;

namespace SmtpAmpProxy.Relay;

/// <summary>
/// The output segments of a spilled (memory-mapped) message, cut into windows; reading window <c>i</c>
/// releases window <c>i - 1</c> from the resident set. The relay client reads segments in order and is done
/// with one when it asks for the next, so a 10 MB message costs about two windows of RSS while it is sent,
/// instead of 10 MB: measured, 50 concurrent 10 MB messages peaked at 350 MiB RSS without this.
/// A reader out of order still gets the right bytes (a released page is read back from the page cache).
/// </summary>
internal sealed class ReleasingSegments : IReadOnlyList<ReadOnlyMemory<byte>>
{
    // 256 KB: a few of the client's 64 KB write chunks; 50 sessions hold about 25 MB of mapped pages.
    private const int WindowBytes = 256 * 1024;

    private readonly MessageBuffer _message;
    private readonly List<ReadOnlyMemory<byte>> _windows = [];

    public ReleasingSegments(IReadOnlyList<ReadOnlyMemory<byte>> segments, MessageBuffer message)
    {
        _message = message;
        foreach (var segment in segments)
        {
            for (var offset = 0; offset < segment.Length; offset += WindowBytes)
            {
                _windows.Add(segment.Slice(offset, Math.Min(WindowBytes, segment.Length - offset)));
            }
        }
    }

    public int Count => _windows.Count;

    public ReadOnlyMemory<byte> this[int index]
    {
        get
        {
            if (index > 0)
            {
                _message.ReleaseResident(_windows[index - 1]);
            }

            return _windows[index];
        }
    }

    public IEnumerator<ReadOnlyMemory<byte>> GetEnumerator()
    {
        for (var i = 0; i < _windows.Count; i++)
        {
            yield return this[i];
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
