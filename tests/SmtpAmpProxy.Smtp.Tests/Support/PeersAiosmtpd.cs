using System.Diagnostics;

namespace SmtpAmpProxy.Smtp.Tests.Support;

/// <summary>
/// aiosmtpd (Debian's package, for /usr/bin/python3 only) as an upstream we did not write: stores each
/// message's bytes as received (dot-unstuffed, CRLF kept) in NNNN.eml with the envelope in NNNN.json.
/// Optional STARTTLS (cert + key PEM) and AUTH with one user.
/// </summary>
internal static class PeersAiosmtpd
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> s_missing = new(Probe);

    /// <summary>Null when the peer can run, else why not.</summary>
    public static string? Missing => s_missing.Value;

    public static async Task<(PeersProcess Process, int Port)> StartAsync(string directory, string? certPath = null, string? keyPath = null, string? user = null, string? password = null)
    {
        string script = Path.Combine(directory, "peer.py");
        await File.WriteAllTextAsync(script, Script);
        int port = PeersProcess.FreePort();
        var arguments = new List<string> { script, "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), directory, certPath ?? "-", keyPath ?? "-" };
        if (user is not null)
        {
            arguments.Add(user);
            arguments.Add(password ?? "");
        }

        PeersProcess process = PeersProcess.Start(Python, [.. arguments]);
        try
        {
            await process.WaitForPortAsync(port);
        }
        catch
        {
            process.Dispose();
            throw;
        }

        return (process, port);
    }

    private static string? Probe()
    {
        if (!File.Exists(Python))
        {
            return Python + " is not installed";
        }

        var info = new ProcessStartInfo(Python) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import aiosmtpd");
        using var probe = Process.Start(info)!;
        if (!probe.WaitForExit(20_000))
        {
            probe.Kill();
            probe.WaitForExit(5_000);
            return "probing aiosmtpd timed out";
        }

        return probe.ExitCode == 0 ? null : "aiosmtpd is not installed for " + Python;
    }

    private const string Script = """
import os, ssl, sys, time, json
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

host, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cert = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != '-' else None
key = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != '-' else None
user = sys.argv[6] if len(sys.argv) > 6 else None
password = sys.argv[7] if len(sys.argv) > 7 else None
count = [0]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        count[0] += 1
        name = os.path.join(outdir, '%04d' % count[0])
        with open(name + '.tmp', 'wb') as f:
            f.write(envelope.original_content)
        with open(name + '.json', 'w') as f:
            json.dump({'from': envelope.mail_from, 'to': envelope.rcpt_tos, 'tls': session.ssl is not None,
                       'auth': session.authenticated}, f)
        os.rename(name + '.tmp', name + '.eml')
        return '250 2.0.0 Ok: queued as Q%d' % count[0]

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = user is not None and auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False)

kwargs = {}
if cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs['tls_context'] = ctx
    kwargs['require_starttls'] = True
if user:
    kwargs['authenticator'] = authenticator
    kwargs['auth_required'] = True
    kwargs['auth_require_tls'] = cert is not None
controller = Controller(Handler(), hostname=host, port=port, server_hostname='localhost', **kwargs)
controller.start()
print('ready', flush=True)
while True:
    time.sleep(3600)
""";
}
