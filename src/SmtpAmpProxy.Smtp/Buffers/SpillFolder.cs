using System.Text.RegularExpressions;

namespace SmtpAmpProxy.Smtp.Buffers;

/// <summary>
/// The folder where messages larger than the memory threshold are spilled. A spill file loses its name the
/// moment it is opened (the open descriptor keeps the bytes and the memory mapping working), so a kill -9 or an
/// OOM kill leaves nothing behind, not even a file that a later start would have to find. Files left by versions
/// that kept the name until close are removed by <see cref="SweepStale"/> at start.
/// </summary>
public sealed partial class SpillFolder
{
    private const string Prefix = "smtp-";
    private const string Extension = ".msg";

    // errno values as .NET reports them in IOException.HResult on Unix, and the Windows disk-full codes.
    private const int NoSpace = 28;
    private const int QuotaExceeded = 122;
    private const int WindowsDiskFull = unchecked((int)0x80070070);
    private const int WindowsHandleDiskFull = unchecked((int)0x80070027);

    private long _writeFailures;

    public SpillFolder(string? path = null)
    {
        Path = string.IsNullOrEmpty(path) ? System.IO.Path.GetTempPath() : System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    /// <summary>Spill writes that failed (full disk, quota, I/O error) since start; each answered 452 4.3.1.</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>
    /// Deletes spill files a crashed process left here: only names this code ever made (smtp-, 32 hex digits,
    /// .msg), so a shared folder such as /tmp keeps everything else. A live file of a running instance has no
    /// name, so it cannot be swept from under it. Returns how many were removed.
    /// </summary>
    public int SweepStale()
    {
        if (!Directory.Exists(Path))
        {
            return 0;
        }

        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(Path, Prefix + "*" + Extension))
        {
            if (!SpillName().IsMatch(System.IO.Path.GetFileName(file)))
            {
                continue;
            }

            try
            {
                File.Delete(file);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Someone else's file, or already gone: not ours to insist on.
            }
        }

        return removed;
    }

    /// <summary>
    /// Readiness: creates, writes one block to, and drops a probe file. False, with the reason, when the folder
    /// is missing and cannot be made, is read-only, or is full: then every message over the threshold gets 452.
    /// </summary>
    public bool CanWrite(out string? reason)
    {
        try
        {
            using var probe = Create(bufferSize: 0);
            probe.Write(new byte[4096]);
            probe.Flush(flushToDisk: false);
            reason = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"spill folder {Path} is not writable: {e.Message}";
            return false;
        }
    }

    /// <summary>True when the exception says the disk (or the quota) is full rather than something else broke.</summary>
    public static bool IsOutOfSpace(Exception e) =>
        e is IOException { HResult: NoSpace or QuotaExceeded or WindowsDiskFull or WindowsHandleDiskFull };

    internal void CountWriteFailure() => Interlocked.Increment(ref _writeFailures);

    /// <summary>A private read-write file that already has no name on Unix (on Windows it goes at close).</summary>
    internal FileStream Create(int bufferSize)
    {
        Directory.CreateDirectory(Path);
        var path = System.IO.Path.Combine(Path, $"{Prefix}{Guid.NewGuid():N}{Extension}");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            BufferSize = bufferSize,
        };
        if (OperatingSystem.IsWindows())
        {
            // Windows cannot remove the name of an open file; the handle removes it on close.
            options.Options = FileOptions.DeleteOnClose;
            return new FileStream(path, options);
        }

        // Mail is private: readable by the service account only, whatever the umask.
        options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var file = new FileStream(path, options);
        try
        {
            File.Delete(path);
        }
        catch
        {
            file.Dispose();
            throw;
        }

        return file;
    }

    [GeneratedRegex("^smtp-[0-9a-f]{32}\\.msg$", RegexOptions.CultureInvariant)]
    private static partial Regex SpillName();
}
