using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace SmtpAmpProxy.Mime.Tests.Support;

/// <summary>Python's stdlib email package as an independent reader of MIME structure.</summary>
internal static class PythonEmail
{
    // One JSON line per file: the tree as Python reads it; leaves carry a hash of the decoded payload.
    private const string Script = """
        import email, hashlib, json, sys
        from email import policy

        def walk(m):
            ct = m.get_content_type()
            if m.get_content_maintype() == 'multipart' and m.is_multipart():
                return {'type': ct, 'children': [walk(p) for p in m.get_payload()]}
            payload = m.get_payload()
            if isinstance(payload, list):
                data = b''.join(p.as_bytes() for p in payload)
            else:
                data = m.get_payload(decode=True) or b''
            return {'type': ct, 'len': len(data), 'sha256': hashlib.sha256(data).hexdigest()}

        for path in sys.argv[1:]:
            with open(path, 'rb') as f:
                msg = email.message_from_binary_file(f, policy=policy.compat32)
            print(json.dumps(walk(msg), sort_keys=True))
        """;

    /// <summary>Python's trees for the files, or null (with the reason) when python3 cannot be run.</summary>
    public static IReadOnlyList<JsonNode>? Read(IReadOnlyList<string> files, out string? unavailable)
    {
        unavailable = null;
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        foreach (var f in files)
        {
            start.ArgumentList.Add(f);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("no process");
        }
        catch (Win32Exception e)
        {
            unavailable = $"python3 is not available: {e.Message}";
            return null;
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var lines = new List<JsonNode>();
            while (process.StandardOutput.ReadLine() is { } line)
            {
                lines.Add(JsonNode.Parse(line)!);
            }

            if (!process.WaitForExit(120_000))
            {
                process.Kill();
                throw new TimeoutException("python3 did not finish");
            }

            if (process.ExitCode != 0 || lines.Count != files.Count)
            {
                throw new InvalidOperationException($"python3 failed ({process.ExitCode}): {stderr.Result}");
            }

            return lines;
        }
    }

    public static JsonNode? At(JsonNode tree, string path)
    {
        var node = tree;
        foreach (var step in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var children = node["children"]?.AsArray();
            var index = int.Parse(step, System.Globalization.CultureInfo.InvariantCulture) - 1;
            if (children is null || index >= children.Count)
            {
                return null;
            }

            node = children[index]!;
        }

        return node;
    }
}
