using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace SmtpAmpProxy.Queue.Spool;

/// <summary>
/// fsync(2) for files and directories. A rename is durable only once its directory is synced
/// (POSIX leaves directory entries in the cache otherwise), and .NET opens no directory as a file
/// (<c>File.OpenHandle</c> refuses one on Unix), so the directory is opened and synced through libc.
/// </summary>
internal static partial class Fsync
{
    private const int ReadOnly = 0;
    private const int CloseOnExec = 0x80000;

    /// <summary>Flushes a written file's data and metadata to the device.</summary>
    public static void File(SafeFileHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (OperatingSystem.IsWindows())
        {
            using var stream = new FileStream(handle, FileAccess.Write, 0);
            stream.Flush(flushToDisk: true);
            return;
        }

        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            Check(SysFsync((int)handle.DangerousGetHandle()), "fsync");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Makes the entries of <paramref name="path"/> (renames, unlinks) durable. Windows journals them itself.</summary>
    public static void Directory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = SysOpen(path, ReadOnly | CloseOnExec);
        Check(fd, "open");
        try
        {
            Check(SysFsync(fd), "fsync");
        }
        finally
        {
            _ = SysClose(fd);
        }
    }

    private static void Check(int result, string call)
    {
        if (result < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{call}: {new Win32Exception(errno).Message}", errno);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SysOpen(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int SysFsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int SysClose(int fd);
}
