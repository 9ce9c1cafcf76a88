using BenchmarkDotNet.Running;

namespace SmtpAmpProxy.Benchmarks;

public static class BenchmarkEntry
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "hostile")
        {
            HostileShapeBench.Run(args);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkEntry).Assembly).Run(args);
    }
}
