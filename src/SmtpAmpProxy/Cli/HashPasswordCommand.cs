using SmtpAmpProxy.Access;

namespace SmtpAmpProxy.Cli;

/// <summary>
/// <c>smtp-amp-proxy hash-password</c>: reads a password from standard input (one line) and prints
/// the hash to put into <c>Proxy:Access:Users:N:PasswordHash</c>. Reading stdin keeps the password
/// out of the shell history and the process list.
/// </summary>
internal static class HashPasswordCommand
{
    public static async Task<int> RunAsync(TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var password = await stdin.ReadLineAsync().ConfigureAwait(false);
        if (string.IsNullOrEmpty(password))
        {
            await stderr.WriteLineAsync("hash-password: give the password on standard input, e.g. read -rs P; echo \"$P\" | smtp-amp-proxy hash-password")
                .ConfigureAwait(false);
            return 2;
        }

        await stdout.WriteLineAsync(PasswordHash.Create(password)).ConfigureAwait(false);
        return 0;
    }
}
