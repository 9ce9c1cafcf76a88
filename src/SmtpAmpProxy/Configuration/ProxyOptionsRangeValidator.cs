using Microsoft.Extensions.Options;

namespace SmtpAmpProxy.Configuration;

/// <summary>The per-value range rules written as attributes on the options records; the code is generated.</summary>
[OptionsValidator]
internal sealed partial class ProxyOptionsRangeValidator : IValidateOptions<ProxyOptions>;
