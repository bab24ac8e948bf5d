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

    /// <summary>
    /// A Server in this process on a free loopback port, on <paramref name="database"/> with the repository's catalog, its embedded
    /// emulator and the gateway admitted from 127.0.0.1; <paramref name="settings"/> (<c>--Key=value</c>) are added.
    /// </summary>
    public static Task<(Microsoft.AspNetCore.Builder.WebApplication App, Uri Address)> StartServerAsync(string database, params string[] settings)
    {
        var port = LabManager.Testing.ProcessHost.FreePort();
        return LabManager.Server.ServerApp.StartAsync(
        [
            "--urls", $"http://127.0.0.1:{port}",
            $"--ConnectionStrings:Postgres={database}",
            "--Auth:SigningKey=bench-signing-key-0123456789abcdef0123456789",
            $"--Catalog:File={LabManager.Testing.RepoPaths.Catalog}",
            "--Logging:LogLevel:Default=Warning",
            "--Access:GatewayCidrs:0=127.0.0.1/32", $"--Access:LabPort={port}",
            .. settings,
        ]);
    }
}
