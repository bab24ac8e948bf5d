using System.Diagnostics;
using System.Net;
using System.Text;
using LabManager.Testing;

namespace LabManager.Bench;

/// <summary>
/// What a warm pool gives learners: the Server (Azure Storage engine) with the emulator booting VMs as Vultr does (a minute to
/// <c>ok</c>, a minute of cloud-init), a pool of N for one lab, then a burst of learners larger than the pool. Click → running is
/// measured for each learner (polling its instance every 100 ms), for those the pool served and those that booted cold, beside the
/// hit rate, how long the pool took to fill and to refill, and what it costs an hour while it waits.
/// Usage: bench lifecycle --pool 5 [--burst 10] [--profile vultr|fast] [--out FILE]
/// </summary>
internal static class PoolBench
{
    private const string Lab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a01";

    public static async Task<int> RunAsync(string[] args)
    {
        var size = BenchArgs.Int(args, "--pool", 5);
        var burst = BenchArgs.Int(args, "--burst", size * 2);
        var profile = args.SkipWhile(a => a != "--profile").Skip(1).FirstOrDefault() ?? "vultr";
        Console.WriteLine($"pool: {size} ready, a burst of {burst}, emulator profile {profile}, {Environment.ProcessorCount} cores");
        string[] settings = ["Durable:Backend=AzureStorage", "Api:MaxStartsPerWindow=10000", "Reconciliation:Interval=00:00:00", "Logging:LogLevel:Default=Error"];
        await using var lab = await ServerProcesses.StartAsync(BenchArgs.Azurite, [$"Emulator:Profile={profile}"], settings, BenchArgs.Postgres);
        var admin = lab.Token(Guid.NewGuid(), admin: true);

        var clock = Stopwatch.StartNew();
        var (set, answer) = await lab.SendAsync(HttpMethod.Put, $"/api/admin/labs/{Lab}/pool", admin, $$"""{"min": {{size}}, "max": {{size}}, "maxAgeMinutes": 120}""");
        if (set != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"the pool was refused: {answer.ToJsonString()}");
        }

        await WaitForReadyAsync(lab, admin, size, TimeSpan.FromMinutes(15));
        var fill = clock.Elapsed;
        Console.WriteLine($"pool of {size} ready after {fill.TotalSeconds:F0} s");

        clock.Restart();
        var starts = await Task.WhenAll(Enumerable.Range(0, burst).Select(_ => StartAndWaitAsync(lab)));
        var burstDone = clock.Elapsed;
        await WaitForReadyAsync(lab, admin, size, TimeSpan.FromMinutes(15));
        var refill = clock.Elapsed;
        var pool = await PoolAsync(lab, admin);

        var warm = starts.Where(s => s.Claimed).Select(s => s.Ms).ToList();
        var cold = starts.Where(s => !s.Claimed).Select(s => s.Ms).ToList();
        var report = new StringBuilder()
            .AppendLine($"Warm pool on {Environment.ProcessorCount} cores: a pool of {size} for one lab, a burst of {burst} learners; emulator profile `{profile}`; Azure Storage engine.")
            .AppendLine()
            .AppendLine("| measure | value |")
            .AppendLine("|---|---|")
            .AppendLine($"| click → running p50 / p99 (ms), served by the pool ({warm.Count}) | {P(warm)} |")
            .AppendLine($"| click → running p50 / p99 (ms), cold start ({cold.Count}) | {P(cold)} |")
            .AppendLine($"| pool hit rate for the burst | {(double)warm.Count / burst:P0} |")
            .AppendLine($"| pool filled from empty (s) | {fill.TotalSeconds:F0} |")
            .AppendLine($"| pool full again after the burst's clicks (s) | {refill.TotalSeconds:F0} (burst all running after {burstDone.TotalSeconds:F0}) |")
            .AppendLine($"| idle cost of the full pool per hour (USD) | {pool["idleCostPerHour"]} |")
            .ToString();
        Console.WriteLine(report);
        if (args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() is { } file)
        {
            await File.WriteAllTextAsync(file, $"`./scripts/bench.sh lifecycle {string.Join(' ', args)}` ({DateTime.UtcNow:yyyy-MM-dd}, this {Environment.ProcessorCount}-core machine)\n\n" + report);
        }

        foreach (var id in starts.Select(s => s.Id))
        {
            await lab.SendAsync(HttpMethod.Post, $"/api/admin/instances/{id}/stop", admin);
        }

        await lab.SendAsync(HttpMethod.Put, $"/api/admin/labs/{Lab}/pool", admin, """{"min": 0, "max": 0}""");
        await ProcessHost.WaitUntilAsync(async () => (await lab.Emulator.InspectAsync()).Vms.Count == 0, TimeSpan.FromMinutes(5), () => "VMs were left");
        Console.WriteLine("every VM destroyed");
        return 0;
    }

    private static string P(List<double> values) =>
        LifecycleBench.Percentiles.Of(values) is { Count: > 0 } p ? $"{p.P50:F0} / {p.P99:F0}" : "–";

    private static async Task<System.Text.Json.Nodes.JsonObject> PoolAsync(ServerProcesses lab, string admin) =>
        (await lab.SendAsync(HttpMethod.Get, "/api/admin/pools", admin)).Body["data"]!.AsArray().Single(p => p!["labId"]!.GetValue<string>() == Lab)!.AsObject();

    private static Task WaitForReadyAsync(ServerProcesses lab, string admin, int ready, TimeSpan timeout) => ProcessHost.WaitUntilAsync(async () =>
    {
        var pool = await PoolAsync(lab, admin);
        return pool["ready"]!.GetValue<int>() == ready && pool["booting"]!.GetValue<int>() == 0;
    }, timeout, () => $"the pool did not reach {ready} ready");

    private static async Task<(string Id, bool Claimed, double Ms)> StartAndWaitAsync(ServerProcesses lab)
    {
        var token = lab.Token(Guid.NewGuid());
        var clock = Stopwatch.StartNew();
        var (status, body) = await lab.SendAsync(HttpMethod.Post, $"/api/labs/{Lab}/start", token);
        if (status != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"start answered {(int)status}: {body.ToJsonString()}");
        }

        var id = body["data"]!["id"]!.GetValue<string>();
        var claimed = body["message"]!.GetValue<string>() == "Lab starting from the warm pool";
        while ((await lab.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Body["data"]!["status"]!.GetValue<string>() != "running")
        {
            await Task.Delay(100);
        }

        return (id, claimed, clock.Elapsed.TotalMilliseconds);
    }
}
