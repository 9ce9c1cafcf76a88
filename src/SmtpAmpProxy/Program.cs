using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SmtpAmpProxy.Cli;
using SmtpAmpProxy.Configuration;
using SmtpAmpProxy.Hosting;

namespace SmtpAmpProxy;

internal static class Program
{
    private const int ExitConfigurationError = 2;

    public static async Task<int> Main(string[] args)
    {
        var verb = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
        var rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
        return verb switch
        {
            "check" => await CheckCommand.RunAsync(rest, Console.OpenStandardInput(), Console.Out, Console.Error).ConfigureAwait(false),
            "serve" => await ServeAsync(rest).ConfigureAwait(false),
            "health" => await HealthCommand.RunAsync(rest, Console.Out, Console.Error).ConfigureAwait(false),
            "queue" => await QueueCliCommand.RunAsync(rest, Console.Out, Console.Error).ConfigureAwait(false),
            "hash-password" => await HashPasswordCommand.RunAsync(Console.In, Console.Out, Console.Error).ConfigureAwait(false),
            "help" or "--help" or "-h" => PrintUsage(Console.Out, 0),
            _ => PrintUsage(Console.Error, ExitConfigurationError),
        };
    }

    /// <summary>Serves until SIGTERM/SIGINT. A configuration mistake exits 2 with one line naming the key.</summary>
    private static async Task<int> ServeAsync(string[] args)
    {
        try
        {
            var configuration = ProxyConfiguration.Load(args);
            SocketCompletions.Apply(configuration.Options.Performance.InlineSocketCompletions);
            using var host = ProxyHost.Build(configuration);
            host.Services.ValidateProxyOptions();
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures)
            {
                await Console.Error.WriteLineAsync($"smtp-amp-proxy: configuration error: {failure}").ConfigureAwait(false);
            }

            return ExitConfigurationError;
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync($"smtp-amp-proxy: configuration error: {e.Message}").ConfigureAwait(false);
            return ExitConfigurationError;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
        {
            // A port in use or an address not on this host: the operator's to fix, so one line, not a stack trace.
            await Console.Error.WriteLineAsync(
                $"smtp-amp-proxy: cannot listen: {e.Message} (check Proxy:Listen:N:Endpoint and Proxy:Http:Endpoint)").ConfigureAwait(false);
            return ExitConfigurationError;
        }
    }

    private static int PrintUsage(TextWriter writer, int exitCode)
    {
        writer.WriteLine("""
            usage: smtp-amp-proxy [serve] [--config FILE] [--Proxy:Key=value ...]
                   smtp-amp-proxy check [--json] FILE|- [--write OUT.eml]
                   smtp-amp-proxy hash-password < password-on-one-line
                   smtp-amp-proxy health [--url http://127.0.0.1:8080/healthz]
                   smtp-amp-proxy queue list [--json] | show ID | flush | delete ID [--config FILE]
            """);
        return exitCode;
    }
}
