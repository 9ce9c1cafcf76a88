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
            // Not through a FileStream: disposing one closes the handle, which the intake log keeps writing to.
            if (!FlushFileBuffers(handle))
            {
                Check(-1, "FlushFileBuffers");
            }

            return;
        }

        OnDescriptor(handle, SysFsync, "fsync");
    }

    /// <summary>
    /// Flushes a file's data and what is needed to read it back (its size), not its times: fdatasync(2). For an
    /// appended file that is all a restart needs, and one journal commit less than <see cref="File"/>.
    /// </summary>
    public static void Data(SafeFileHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (!OperatingSystem.IsLinux())
        {
            File(handle);
            return;
        }

        OnDescriptor(handle, SysFdatasync, "fdatasync");
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

    /// <summary>Whether <see cref="FileSystem"/> is available (Linux: syncfs(2) reports write-back errors since 5.8).</summary>
    public static bool CanSyncFileSystem { get; } = OperatingSystem.IsLinux() && Environment.OSVersion.Version >= new Version(5, 8);

    /// <summary>
    /// Opens <paramref name="path"/> for <see cref="FileSystem"/>. Keep it open: syncfs(2) reports a write-back
    /// error that happened since this descriptor was opened or last synced, so a descriptor opened per call
    /// could miss one that happened between the writes and the open.
    /// </summary>
    public static SafeFileHandle OpenFileSystem(string path)
    {
        int fd = SysOpen(path, ReadOnly | CloseOnExec);
        Check(fd, "open");
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Flushes every file, rename and unlink of the file system <paramref name="handle"/> is on: what an fsync of
    /// each written file and of its folder does, with one flush of the device's cache instead of one per file.
    /// </summary>
    public static void FileSystem(SafeFileHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        OnDescriptor(handle, SysSyncFs, "syncfs");
    }

    /// <summary>Runs a call on the handle's descriptor, holding the handle so it can't be closed meanwhile.</summary>
    private static void OnDescriptor(SafeFileHandle handle, Func<int, int> call, string name)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            Check(call((int)handle.DangerousGetHandle()), name);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
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

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int SysFdatasync(int fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SysSyncFs(int fd);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool FlushFileBuffers(SafeFileHandle handle);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int SysClose(int fd);
}
