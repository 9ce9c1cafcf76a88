using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace SmtpAmpProxy.Configuration;

internal static class ProxyOptionsServiceCollectionExtensions
{
    /// <summary>
    /// <see cref="ProxyOptions"/> through the options pipeline: bound from the <c>Proxy</c> section of the
    /// appliance's one configuration (file, environment, command line), refused keys and all, and
    /// validated when the host starts, before any listener opens.
    /// </summary>
    public static IServiceCollection AddProxyOptions(this IServiceCollection services, ProxyConfiguration configuration)
    {
        services.TryAddSingleton(configuration);
        services.AddOptions<ProxyOptions>()
            .Bind(configuration.Root.GetSection(ProxyOptions.SectionName), ProxyConfiguration.StrictBinding)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ProxyOptions>>(new ProxyOptionsValidator(configuration.ContentRoot)));

        // The options never change while the process runs: consumers take the record itself.
        services.TryAddSingleton(provider => provider.GetRequiredService<IOptions<ProxyOptions>>().Value);
        return services;
    }

    /// <summary>
    /// Runs the start-up validation now, so a mistake is reported before anything binds a port.
    /// Throws <see cref="ConfigurationException"/> for a binding error and
    /// <see cref="OptionsValidationException"/> (one failure per key) for invalid values.
    /// </summary>
    public static void ValidateProxyOptions(this IServiceProvider services)
    {
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch (Exception e) when (ProxyConfiguration.BindingError(e) is { } error)
        {
            throw error;
        }
    }
}
