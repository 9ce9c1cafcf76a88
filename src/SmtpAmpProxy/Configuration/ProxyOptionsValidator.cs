using System.Net;
using Microsoft.Extensions.Options;
using SmtpAmpProxy.Smtp.Protocol;

namespace SmtpAmpProxy.Configuration;

/// <summary>
/// Checks the options once at start (<c>ValidateOnStart</c>). Every problem names the configuration key
/// an operator has to fix, because a relay that starts half-configured fails later, on somebody else's
/// mail. Ranges of single values are attributes on the options, checked by the generated
/// <see cref="ProxyOptionsRangeValidator"/>; what needs several values, the file system or a parser is here.
/// </summary>
internal sealed class ProxyOptionsValidator(string contentRoot) : IValidateOptions<ProxyOptions>
{
    private static readonly ProxyOptionsRangeValidator Ranges = new();

    public ValidateOptionsResult Validate(string? name, ProxyOptions options)
    {
        var errors = Validate(options, contentRoot);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Every problem, one line each, ranges first; empty when the options can run.</summary>
    public static IReadOnlyList<string> Validate(ProxyOptions options, string contentRoot)
    {
        var errors = new List<string>(Ranges.Validate(Options.DefaultName, options).Failures ?? []);
        void Error(string key, string message) => errors.Add($"Proxy:{key}: {message}");

        if (string.IsNullOrWhiteSpace(options.ServerName) || options.ServerName.Any(c => c <= ' ' || c > '~'))
        {
            Error("ServerName", "must be a host name of printable ASCII without spaces");
        }

        var listeners = options.EffectiveListen;
        var needsCertificate = false;
        for (var i = 0; i < listeners.Count; i++)
        {
            if (!IPEndPoint.TryParse(listeners[i].Endpoint, out _))
            {
                Error($"Listen:{i}:Endpoint", $"'{listeners[i].Endpoint}' is not an address:port");
            }

            if (listeners[i].Tls == TlsMode.Implicit)
            {
                needsCertificate = true;
            }
        }

        var certificateExists = File.Exists(ResolvePath(contentRoot, options.Tls.CertificatePath));
        if (!(certificateExists && File.Exists(ResolvePath(contentRoot, options.Tls.KeyPath))) && (needsCertificate || options.Tls.Require))
        {
            var why = needsCertificate ? "an Implicit TLS listener needs it" : "Proxy:Tls:Require is true";
            var (missing, path) = certificateExists ? ("KeyPath", options.Tls.KeyPath) : ("CertificatePath", options.Tls.CertificatePath);
            Error($"Tls:{missing}", $"file '{path}' not found ({why})");
        }

        var networks = options.Access.EffectiveAllowedNetworks;
        for (var i = 0; i < networks.Count; i++)
        {
            if (!IpNetwork.TryParse(networks[i], out _))
            {
                Error($"Access:AllowedNetworks:{i}", $"'{networks[i]}' is not a CIDR network such as 10.0.0.0/8");
            }
        }

        var users = options.Access.Users ?? [];
        for (var i = 0; i < users.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(users[i].Name))
            {
                Error($"Access:Users:{i}:Name", "is empty");
            }

            if (!Access.PasswordHash.IsWellFormed(users[i].PasswordHash))
            {
                Error($"Access:Users:{i}:PasswordHash", "is not a hash made by: smtp-amp-proxy hash-password");
            }
        }

        var limits = options.Limits;
        if (limits.MaxAuthFailuresPerAddress > 0 && limits.MaxAuthFailuresPerAddress < limits.MaxAuthFailures)
        {
            Error("Limits:MaxAuthFailuresPerAddress",
                $"must be at least Proxy:Limits:MaxAuthFailures ({limits.MaxAuthFailures}), or 0: one user's mistakes would lock out every user behind the address");
        }

        if (limits.MaxCommandLineBytes < 512)
        {
            Error("Limits:MaxCommandLineBytes", "must be at least 512 (RFC 5321 section 4.5.3.1.4)");
        }

        var upstream = options.Upstream;
        if (upstream.Mode == UpstreamMode.Smtp)
        {
            if (string.IsNullOrWhiteSpace(upstream.Host))
            {
                Error("Upstream:Host", "is empty");
            }

            if (string.IsNullOrEmpty(upstream.Password) && !string.IsNullOrEmpty(upstream.Username))
            {
                Error("Upstream:Password", "is empty: set the SENDGRID_API_KEY environment variable (or Proxy__Upstream__Password)");
            }

            if (!string.IsNullOrEmpty(upstream.CaCertificatePath) && !File.Exists(ResolvePath(contentRoot, upstream.CaCertificatePath)))
            {
                Error("Upstream:CaCertificatePath", $"file '{upstream.CaCertificatePath}' not found");
            }
        }
        else if (string.IsNullOrWhiteSpace(upstream.Directory))
        {
            Error("Upstream:Directory", "is empty (the file-drop upstream needs a folder)");
        }

        var trusted = options.ProxyProtocol.TrustedNetworks ?? [];
        for (var i = 0; i < trusted.Count; i++)
        {
            if (!IpNetwork.TryParse(trusted[i], out _))
            {
                Error($"ProxyProtocol:TrustedNetworks:{i}", $"'{trusted[i]}' is not a CIDR network such as 10.0.0.0/8");
            }
        }

        var proxied = listeners.Select((l, i) => (l, i)).FirstOrDefault(x => x.l.ProxyProtocol);
        if (proxied.l is not null && trusted.Count == 0)
        {
            Error("ProxyProtocol:TrustedNetworks", $"is empty, but Proxy:Listen:{proxied.i}:ProxyProtocol is true (name the load balancers' addresses)");
        }

        if (!string.IsNullOrWhiteSpace(limits.SpillDirectory))
        {
            try
            {
                Directory.CreateDirectory(ResolvePath(contentRoot, limits.SpillDirectory));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                Error("Limits:SpillDirectory", $"cannot create '{limits.SpillDirectory}': {e.Message}");
            }
        }

        if (!string.IsNullOrWhiteSpace(options.Quarantine.Directory))
        {
            if (options.Quarantine.MaxTotalBytes <= 0)
            {
                Error("Quarantine:MaxTotalBytes", $"must be positive (is {options.Quarantine.MaxTotalBytes})");
            }

            try
            {
                Directory.CreateDirectory(ResolvePath(contentRoot, options.Quarantine.Directory));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                Error("Quarantine:Directory", $"cannot create '{options.Quarantine.Directory}': {e.Message}");
            }
        }

        try
        {
            Http.OperationsPort.ParseEndpoint(options.Http.Endpoint);
        }
        catch (ConfigurationException e)
        {
            errors.Add(e.Message);
        }

        if (options.Relay.Mode == RelayMode.Queue)
        {
            ValidateQueue(options, contentRoot, Error);
        }

        if (options.Dkim.OnRepair == DkimRepairAction.Resign && options.Dkim.Keys is not { Count: > 0 })
        {
            Error("Dkim:Keys", "is empty, but Proxy:Dkim:OnRepair is Resign");
        }

        errors.AddRange(Webhook.WebhookOptionsValidator.Validate(options.Webhook));
        return errors;
    }

    private static void ValidateQueue(ProxyOptions options, string contentRoot, Action<string, string> error)
    {
        var queue = options.Queue;
        if (options.Upstream.Mode != UpstreamMode.Smtp)
        {
            error("Relay:Mode", "Queue delivers through the SMTP upstream: set Proxy:Upstream:Mode to Smtp");
        }

        // Whether the folder can be created and locked is found when the spool opens at start (exit 2 naming this key).
        if (string.IsNullOrWhiteSpace(queue.Directory))
        {
            error("Queue:Directory", "is empty (Queue mode needs a spool folder on persistent storage)");
        }
        else if (Path.Combine(ResolvePath(contentRoot, queue.Directory), "control.sock").Length > 100)
        {
            // The control socket lives in the spool, and a Unix socket path has at most 107 bytes.
            error("Queue:Directory", $"'{queue.Directory}' is too long for the control socket in it (at most 87 characters)");
        }

        if (queue.MaximalBackoff < queue.MinimalBackoff)
        {
            error("Queue:MaximalBackoff", $"must be at least Proxy:Queue:MinimalBackoff (is {queue.MaximalBackoff})");
        }

        // An address the client will send as RCPT TO:<...>: no brackets, spaces or control characters.
        if (queue.BounceTo.Length > 0 && (!queue.BounceTo.Contains('@', StringComparison.Ordinal)
            || queue.BounceTo.Any(c => c <= ' ' || c is '<' or '>' or (char)127)))
        {
            error("Queue:BounceTo", $"'{queue.BounceTo}' is not a mailbox such as postmaster@example.com");
        }
    }

    public static string ResolvePath(string contentRoot, string path) =>
        Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(contentRoot, path));
}
