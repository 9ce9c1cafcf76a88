using System.Text.Json;

namespace SmtpAmpProxy.Tests.Support;

/// <summary>Python's stdlib email package as the judge of a MIME tree: a parser we did not write.</summary>
internal static class PythonMime
{
    public sealed record Summary(IReadOnlyList<IReadOnlyList<string>> Alternatives, IReadOnlyList<(string Type, string Sha256)> Leaves);

    public static Summary Summarise(string emlPath)
    {
        var python = Peers.RequirePython();
        var result = Peers.Run(python, [RepoPaths.Peer("mime_summary.py"), emlPath], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.StdErr);
        using var json = JsonDocument.Parse(result.StdOut);
        var alternatives = json.RootElement.GetProperty("alternatives").EnumerateArray()
            .Select(a => (IReadOnlyList<string>)[.. a.EnumerateArray().Select(t => t.GetString()!)])
            .ToList();
        var leaves = json.RootElement.GetProperty("leaves").EnumerateArray()
            .Select(l => (l.GetProperty("type").GetString()!, l.GetProperty("sha256").GetString()!))
            .ToList();
        return new Summary(alternatives, leaves);
    }

    public static Summary Summarise(byte[] message)
    {
        using var directory = new TempDirectory();
        var path = directory.File("message.eml");
        File.WriteAllBytes(path, message);
        return Summarise(path);
    }
}

/// <summary>Python's smtplib as the sender: a client we did not write.</summary>
internal static class PythonSmtp
{
    public sealed record Outcome(bool Ok, string? Stage, int Code, string? Text, IReadOnlyDictionary<string, int> Refused);

    public static Outcome Send(System.Net.IPEndPoint proxy, string from, IReadOnlyList<string> to, byte[] message, bool startTls = false)
    {
        var python = Peers.RequirePython();
        using var directory = new TempDirectory();
        var path = directory.File("message.eml");
        File.WriteAllBytes(path, message);
        string[] args = [RepoPaths.Peer("smtp_send.py"), proxy.Address.ToString(), proxy.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            from, string.Join(',', to), path, .. startTls ? new[] { "--starttls" } : []];
        var result = Peers.Run(python, args, TimeSpan.FromSeconds(90));
        Assert.True(result.ExitCode == 0, result.StdErr);
        using var json = JsonDocument.Parse(result.StdOut);
        var root = json.RootElement;
        if (root.GetProperty("ok").GetBoolean())
        {
            var refused = root.GetProperty("refused").EnumerateObject().ToDictionary(p => p.Name, p => p.Value[0].GetInt32());
            return new Outcome(true, null, 250, null, refused);
        }

        return new Outcome(false, root.GetProperty("stage").GetString(), root.GetProperty("code").GetInt32(),
            root.GetProperty("text").GetString(), new Dictionary<string, int>());
    }
}
