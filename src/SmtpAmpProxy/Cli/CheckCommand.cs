using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Normalizer;
using SmtpAmpProxy.Normalizer.Reporting;
using SmtpAmpProxy.Normalizer.Results;

namespace SmtpAmpProxy.Cli;

/// <summary>
/// <c>smtp-amp-proxy check [--json] FILE|- [--write OUT.eml]</c>: the normalizer offline.
/// Exit status 0 for pass or rewrite, 3 for reject, 1 for unreadable input, 2 for a usage error.
/// </summary>
internal static class CheckCommand
{
    public const int ExitOk = 0;
    public const int ExitUnreadable = 1;
    public const int ExitUsage = 2;
    public const int ExitRejected = 3;

    public const string Usage = "usage: smtp-amp-proxy check [--json] FILE|- [--write OUT.eml] [--config FILE]";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        var json = false;
        string? input = null;
        string? output = null;
        var configArgs = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--json":
                    json = true;
                    break;
                case "--write" or "-w" when i + 1 < args.Count:
                    output = args[++i];
                    break;
                case "--config" when i + 1 < args.Count:
                    configArgs.AddRange(["--config", args[++i]]);
                    break;
                case var arg when input is null && (arg == "-" || !arg.StartsWith('-')):
                    input = arg;
                    break;
                default:
                    await stderr.WriteLineAsync($"check: unexpected argument '{args[i]}'\n{Usage}").ConfigureAwait(false);
                    return ExitUsage;
            }
        }

        if (input is null)
        {
            await stderr.WriteLineAsync(Usage).ConfigureAwait(false);
            return ExitUsage;
        }

        ProxyOptions options;
        try
        {
            options = ProxyConfiguration.Load(configArgs).Options;
        }
        catch (ConfigurationException e)
        {
            await stderr.WriteLineAsync($"check: configuration error: {e.Message}").ConfigureAwait(false);
            return ExitUsage;
        }

        byte[] message;
        try
        {
            message = await ReadAllAsync(input, stdin).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"check: cannot read '{input}': {e.Message}").ConfigureAwait(false);
            return ExitUnreadable;
        }

        var limits = new MimeLimits
        {
            MaxDepth = options.Limits.MaxMimeDepth,
            MaxParts = options.Limits.MaxMimeParts,
            MaxHeaderBlockBytes = options.Limits.MaxHeaderBytes,
        };
        var result = AmpNormalizer.Normalize(message, limits, options.Amp);
        await stdout.WriteLineAsync(json ? CheckReport.ToJson(result, message, limits) : CheckReport.ToText(result, message, limits))
            .ConfigureAwait(false);

        if (result.Verdict == AmpVerdict.Reject)
        {
            await stderr.WriteLineAsync($"check: reject {result.RejectCode}: {result.RejectText}").ConfigureAwait(false);
            return ExitRejected;
        }

        if (output is not null)
        {
            await using var file = File.Create(output);
            foreach (var segment in AmpNormalizer.GetOutputSegments(message, result))
            {
                await file.WriteAsync(segment).ConfigureAwait(false);
            }
        }

        var summary = result.Verdict == AmpVerdict.Rewrite
            ? $"check: rewrite ({string.Join(", ", result.Actions.Select(a => a.Code))})"
            : "check: pass";
        await stderr.WriteLineAsync(output is null ? summary : $"{summary}; written to {output}").ConfigureAwait(false);
        return ExitOk;
    }

    private static async Task<byte[]> ReadAllAsync(string input, Stream stdin)
    {
        if (input != "-")
        {
            return await File.ReadAllBytesAsync(input).ConfigureAwait(false);
        }

        using var buffer = new MemoryStream();
        await stdin.CopyToAsync(buffer).ConfigureAwait(false);
        return buffer.ToArray();
    }
}
