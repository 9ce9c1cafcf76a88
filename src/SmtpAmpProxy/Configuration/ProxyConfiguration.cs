using Microsoft.Extensions.Configuration;

namespace SmtpAmpProxy.Configuration;

/// <summary>
/// Where the configuration comes from, lowest precedence first: the JSON file, <c>SENDGRID_API_KEY</c>,
/// environment variables (<c>Proxy__Upstream__Host</c>), then the command line
/// (<c>--Proxy:Upstream:Port=2525</c>).
/// </summary>
internal sealed class ProxyConfiguration
{
    public const string ApiKeyVariable = "SENDGRID_API_KEY";
    private const string DefaultFile = "config/appsettings.json";

    private ProxyConfiguration(IConfigurationRoot root, ProxyOptions options, string contentRoot, string? file)
    {
        Root = root;
        Options = options;
        ContentRoot = contentRoot;
        File = file;
    }

    public IConfigurationRoot Root { get; }
    public ProxyOptions Options { get; }

    /// <summary>Relative paths in the options (certificates, outbox) resolve against this folder.</summary>
    public string ContentRoot { get; }

    public string? File { get; }

    /// <summary>Loads and binds the configuration; throws <see cref="ConfigurationException"/> naming the key.</summary>
    public static ProxyConfiguration Load(IReadOnlyList<string> args, IReadOnlyDictionary<string, string?>? environmentOverride = null)
    {
        var rest = new List<string>();
        string? explicitFile = null;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] is "--config" or "-c")
            {
                if (i + 1 >= args.Count)
                {
                    throw new ConfigurationException("--config needs a file name");
                }

                explicitFile = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                explicitFile = args[i]["--config=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        var (file, contentRoot) = FindFile(explicitFile);
        var builder = new ConfigurationBuilder();
        if (file is not null)
        {
            builder.AddJsonFile(file, optional: false, reloadOnChange: false);
        }

        var apiKey = environmentOverride is null
            ? Environment.GetEnvironmentVariable(ApiKeyVariable)
            : environmentOverride.GetValueOrDefault(ApiKeyVariable);
        if (!string.IsNullOrEmpty(apiKey))
        {
            builder.AddInMemoryCollection([new("Proxy:Upstream:Password", apiKey)]);
        }

        if (environmentOverride is null)
        {
            builder.AddEnvironmentVariables();
        }
        else
        {
            builder.AddInMemoryCollection(environmentOverride
                .Where(pair => pair.Key.Contains("__", StringComparison.Ordinal))
                .Select(pair => new KeyValuePair<string, string?>(pair.Key.Replace("__", ":", StringComparison.Ordinal), pair.Value)));
        }

        builder.AddCommandLine([.. rest]);

        IConfigurationRoot root;
        try
        {
            root = builder.Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            throw new ConfigurationException($"{file}: {e.Message}", e);
        }

        ProxyOptions options;
        try
        {
            options = root.GetSection(ProxyOptions.SectionName).Get<ProxyOptions>(StrictBinding) ?? new ProxyOptions();
        }
        catch (Exception e) when (BindingError(e) is { } error)
        {
            throw error;
        }

        return new ProxyConfiguration(root, options, contentRoot, file);
    }

    /// <summary>A key the options do not have is a typo the operator should hear about, not a silent default.</summary>
    public static void StrictBinding(BinderOptions binder) => binder.ErrorOnUnknownConfiguration = true;

    /// <summary>
    /// The binder's refusal (a key it does not know, a value it cannot convert, a value an options record
    /// refused) as one line naming the key; null for anything else.
    /// </summary>
    public static ConfigurationException? BindingError(Exception e)
    {
        switch (e)
        {
            case InvalidOperationException:
                // The binder wraps the useful part ("... at 'Proxy:Listen:0:Tls' to type ...") in its inner exceptions.
                var detail = e;
                while (detail.InnerException is InvalidOperationException inner)
                {
                    detail = inner;
                }

                return new ConfigurationException(detail.Message, e);
            case System.Reflection.TargetInvocationException { InnerException: ArgumentException invalid }:
                // An options record refused a value in its init accessor; its message names the key below Proxy.
                return new ConfigurationException($"{ProxyOptions.SectionName}:{invalid.Message.Split(" (Parameter", 2)[0]}", e);
            default:
                return null;
        }
    }

    /// <summary>
    /// An explicit file is used as given. Otherwise config/appsettings.json in the working directory,
    /// then beside the executable; the folder holding config/ becomes the content root.
    /// </summary>
    private static (string? File, string ContentRoot) FindFile(string? explicitFile)
    {
        var workingDirectory = Directory.GetCurrentDirectory();
        if (explicitFile is not null)
        {
            var full = Path.GetFullPath(explicitFile);
            if (!System.IO.File.Exists(full))
            {
                throw new ConfigurationException($"--config: file '{explicitFile}' not found");
            }

            return (full, workingDirectory);
        }

        foreach (var root in new[] { workingDirectory, AppContext.BaseDirectory })
        {
            var candidate = Path.Combine(root, DefaultFile);
            if (System.IO.File.Exists(candidate))
            {
                return (Path.GetFullPath(candidate), root);
            }
        }

        return (null, workingDirectory);
    }
}

/// <summary>An operator's mistake in the configuration: reported in one line, exit code 2.</summary>
internal sealed class ConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
