using CsCheck;

namespace SmtpAmpProxy.Mime.Tests.Oracles;

/// <summary>
/// Property tests that draw the same samples on every run, so a CI result can be repeated: sample i
/// comes from the seed of <c>PCG(Stream, i)</c>. A failing sample is handed to CsCheck with its seed, which
/// shrinks it and names a seed to replay. Setting <c>CsCheck_Seed</c> replays one sample through CsCheck;
/// <c>CsCheck_Explore=1</c> draws fresh random samples instead, to look for new differences on purpose.
/// </summary>
internal static class RepeatableSampling
{
    private const uint Stream = 2026;

    public static void SampleRepeatable<T>(this Gen<T> gen, Action<T> assert, int iter, Func<T, string> print)
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CsCheck_Seed"))
            || Environment.GetEnvironmentVariable("CsCheck_Explore") == "1")
        {
            gen.Sample(assert, iter: iter, print: print);
            return;
        }

        for (var i = 0; i < iter; i++)
        {
            var seed = new PCG(Stream, (ulong)i).ToString();
            var value = gen.Generate(PCG.Parse(seed), null!, out _);
            try
            {
                assert(value);
            }
            catch (Exception failure)
            {
                var report = $"sample {i} of {iter} (seed {seed}) failed: {failure.Message}\n{print(value)}";
                try
                {
                    gen.Sample(assert, seed: seed, iter: 1000, print: print);
                }
                catch (Exception shrunk)
                {
                    throw new InvalidOperationException(report + "\n\nshrunk by CsCheck:\n" + shrunk.Message, failure);
                }

                throw new InvalidOperationException(report, failure);
            }
        }
    }
}
