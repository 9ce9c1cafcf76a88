using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Queue.Control;

namespace SmtpAmpProxy.Cli;

/// <summary>
/// <c>smtp-amp-proxy queue list [--json] | show ID | flush | delete ID [--config FILE] [--Proxy:Queue:Directory=…]</c>:
/// the spool is found from the same configuration the server reads, so in a container
/// <c>kubectl exec … -- smtp-amp-proxy queue flush</c> needs no path.
/// </summary>
internal static class QueueCliCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var configArgs = new List<string>();
        var commandArgs = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "--config" or "-c" && i + 1 < args.Length)
            {
                configArgs.Add(args[i]);
                configArgs.Add(args[++i]);
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal) || args[i].StartsWith("--Proxy", StringComparison.Ordinal))
            {
                configArgs.Add(args[i]);
            }
            else
            {
                commandArgs.Add(args[i]);
            }
        }

        string directory;
        try
        {
            var configuration = ProxyConfiguration.Load(configArgs);
            directory = ProxyOptionsValidator.ResolvePath(configuration.ContentRoot, configuration.Options.Queue.Directory);
        }
        catch (ConfigurationException e)
        {
            await error.WriteLineAsync($"smtp-amp-proxy: configuration error: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        return await QueueCommand.RunAsync(directory, commandArgs, output, error, TimeProvider.System, CancellationToken.None).ConfigureAwait(false);
    }
}
