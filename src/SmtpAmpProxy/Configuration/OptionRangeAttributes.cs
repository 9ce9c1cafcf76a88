using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace SmtpAmpProxy.Configuration;

/// <summary>
/// Range rules for the options' numbers and times, read by the source-generated
/// <see cref="ProxyOptionsRangeValidator"/>. Each failure is one line naming the configuration key
/// (<c>Proxy:Limits:MaxRecipients</c>) and the value, as every other start-up error does.
/// </summary>
internal abstract class OptionRangeAttribute : ValidationAttribute
{
    protected abstract string? Check(object? value);

    protected sealed override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        Check(value) is { } problem
            ? new ValidationResult($"{Key(validationContext.DisplayName)}: {problem} (is {Convert.ToString(value, CultureInfo.InvariantCulture)})")
            : ValidationResult.Success;

    /// <summary>The generator names a member by its path from the root type ("ProxyOptions.Limits.MaxRecipients").</summary>
    private static string Key(string displayName)
    {
        var path = displayName.StartsWith(nameof(ProxyOptions) + ".", StringComparison.Ordinal)
            ? displayName[(nameof(ProxyOptions).Length + 1)..]
            : displayName;
        return $"{ProxyOptions.SectionName}:{path.Replace('.', ':')}";
    }
}

/// <summary>A count or size that must be above zero; a time span that must be longer than zero.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class PositiveAttribute : OptionRangeAttribute
{
    protected override string? Check(object? value) => value switch
    {
        int number when number <= 0 => "must be positive",
        long number when number <= 0 => "must be positive",
        TimeSpan time when time <= TimeSpan.Zero => "must be a positive time span such as 00:05:00",
        _ => null,
    };
}

/// <summary>A count or time where 0 turns a check off and only a negative value is a mistake.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class NotNegativeAttribute : OptionRangeAttribute
{
    protected override string? Check(object? value) => value switch
    {
        int number when number < 0 => "must not be negative (0 turns the check off)",
        long number when number < 0 => "must not be negative (0 turns the check off)",
        TimeSpan time when time < TimeSpan.Zero => "must not be negative (0 turns the check off)",
        _ => null,
    };
}

/// <summary>A TCP port a connection can be made to.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class TcpPortAttribute : OptionRangeAttribute
{
    protected override string? Check(object? value) => value is int port and (< 1 or > 65535) ? "is not a TCP port" : null;
}
