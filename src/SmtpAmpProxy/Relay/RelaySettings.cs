using SmtpAmpProxy.Mime;
using SmtpAmpProxy.Normalizer;

namespace SmtpAmpProxy.Relay;

/// <summary>What every relay session needs, built once from the options.</summary>
internal sealed record RelaySettings(string ServerName, MimeLimits MimeLimits, AmpOptions Amp, bool AddReceivedHeader);
