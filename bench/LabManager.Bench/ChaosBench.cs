using System.Text.Json;
using LabManager.Testing;

namespace LabManager.Bench;

/// <summary>
/// The chaos run of the tests at a size of your choice; prints its figures and exits non-zero when anything leaked or was
/// left inconsistent. Usage: bench chaos [--labs 40] [--kills 5] [--storm 90] [--seed N]
/// </summary>
internal static class ChaosBench
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new ChaosOptions
        {
            Labs = BenchArgs.Int(args, "--labs", 40),
            Kills = BenchArgs.Int(args, "--kills", 5),
            Storm = TimeSpan.FromSeconds(BenchArgs.Int(args, "--storm", 90)),
            Seed = BenchArgs.Int(args, "--seed", Environment.TickCount),
        };
        Console.WriteLine($"chaos: {options.Labs} labs, {options.Kills} kills over {options.Storm.TotalSeconds:F0} s, seed {options.Seed}");
        var result = await new ChaosRun(options, BenchArgs.Azurite, BenchArgs.Postgres, Console.WriteLine).RunAsync();
        Console.WriteLine(result.Summary());
        foreach (var problem in result.Problems)
        {
            Console.WriteLine("PROBLEM " + problem);
        }

        Console.WriteLine(JsonSerializer.Serialize(result, Json));
        return result.Problems.Count == 0 ? 0 : 1;
    }
}
