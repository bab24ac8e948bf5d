using System.Globalization;

namespace LabManager.Bench;

/// <summary>Command-line options (<c>--name value</c>) and the services <c>./scripts/bench.sh</c> starts.</summary>
internal static class BenchArgs
{
    public static int Int(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    public static double Double(string[] args, string name, double fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? double.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    public static string Postgres => Required("LABMANAGER_BENCH_POSTGRES");

    public static string Azurite => Required("LABMANAGER_BENCH_AZURITE");

    public static string? Redis => Environment.GetEnvironmentVariable("LABMANAGER_BENCH_REDIS") is { Length: > 0 } r ? r : null;

    private static string Required(string variable) => Environment.GetEnvironmentVariable(variable)
        ?? throw new InvalidOperationException($"{variable} is not set: run the benchmark with ./scripts/bench.sh");
}
