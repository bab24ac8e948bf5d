using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using LabManager.Testing;

namespace LabManager.Bench;

/// <summary>
/// The deployment's limits on one Server (its own process, with the emulator in another):
/// <c>--fleet N</c> keeps N labs live at once and measures the Server's memory, Vultr calls/s while they boot and while they idle,
/// reconciliation over the whole fleet, and <c>GET /api/labs/instances/{id}</c> and <c>POST /start</c> under that load;
/// <c>--start-rate R</c> measures <c>POST /start</c> at R starts/s for <c>--seconds S</c> (each lab stopped once its start is answered).
/// Usage: bench lifecycle --fleet 2000 [--rate 20] [--engine inmemory|azurestorage] [--out FILE] |
/// bench lifecycle --start-rate 50 [--seconds 60] [--engine …] [--out FILE].
/// </summary>
internal static class FleetBench
{
    private const string Lab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a01";

    private static readonly string[] EmulatorSettings =
    [
        "Emulator:PendingSeconds=0.5", "Emulator:BootSeconds=0.5", "Emulator:InstallSeconds=1", "Emulator:CloudInitSeconds=1",
    ];

    private static string Engine(string[] args) =>
        (args.SkipWhile(a => a != "--engine").Skip(1).FirstOrDefault() ?? "inmemory").Equals("azurestorage", StringComparison.OrdinalIgnoreCase) ? "AzureStorage" : "InMemory";

    private static Task<ServerProcesses> StartAsync(string engine, params string[] more) => ServerProcesses.StartAsync(BenchArgs.Azurite, EmulatorSettings,
    [
        $"Durable:Backend={engine}", "Api:MinSessionLength=00:00:05", "Api:MaxGlobalInstances=100000", "Api:MaxStartsPerWindow=10000",
        "Logging:LogLevel:Default=Error", .. more,
    ], BenchArgs.Postgres);

    private static string F(double v) => double.IsNaN(v) ? "–" : v.ToString("F1", CultureInfo.InvariantCulture);

    private static string P(LifecycleBench.Percentiles p) => $"{F(p.P50)} / {F(p.P99)}";

    private static async Task WriteAsync(string[] args, string report)
    {
        Console.WriteLine(report);
        if (args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() is { } path)
        {
            await File.WriteAllTextAsync(path + ".md", $"`./scripts/bench.sh lifecycle {string.Join(' ', args.TakeWhile(a => a != "--out"))}`\n\n{report}");
        }
    }

    /// <summary>Requests the emulator answered, all kinds.</summary>
    private static async Task<long> CallsAsync(ServerProcesses lab) =>
        (await lab.Emulator.InspectAsync()).Requests.Where(kv => !kv.Key.StartsWith("answered_", StringComparison.Ordinal)).Sum(kv => (long)kv.Value);

    private static Task<long> CountAsync(ServerProcesses lab, string status) => lab.Db.ScalarAsync<long>($"SELECT count(*) FROM lab_instances WHERE status = '{status}'");

    /// <summary>Starts at <paramref name="perSecond"/> for <paramref name="count"/> starts; answers each start's latency and what it made.</summary>
    private static async Task<List<(double Ms, string Id, string Token)>> StartAtRateAsync(ServerProcesses lab, int count, double perSecond, int lifetimeSeconds,
        Func<(double Ms, string Id, string Token), Task>? then = null)
    {
        var clock = Stopwatch.StartNew();
        var started = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            var due = TimeSpan.FromSeconds(i / perSecond) - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }

            var start = await LifecycleBench.StartAsync(lab, lab.Api, lifetimeSeconds);
            if (then is not null)
            {
                await then(start);
            }

            return start;
        }));
        return [.. started];
    }

    private static async Task StopAsync(ServerProcesses lab, (double Ms, string Id, string Token) start) =>
        await lab.SendAsync(HttpMethod.Post, $"/api/labs/instances/{start.Id}/stop", start.Token);

    public static async Task<int> StartRateAsync(string[] args)
    {
        var engine = Engine(args);
        var rate = BenchArgs.Double(args, "--start-rate", 50);
        var seconds = BenchArgs.Int(args, "--seconds", 60);
        Console.WriteLine($"start rate: {rate}/s for {seconds} s on {engine}, {Environment.ProcessorCount} cores");
        await using var lab = await StartAsync(engine, "Reconciliation:Interval=00:00:00");
        var clock = Stopwatch.StartNew();
        var starts = await StartAtRateAsync(lab, (int)(rate * seconds), rate, 5, s => StopAsync(lab, s));
        var sent = clock.Elapsed.TotalSeconds;
        await LifecycleBench.WaitForEndAsync(lab, TimeSpan.FromMinutes(30));
        var drained = clock.Elapsed.TotalSeconds;
        var latency = LifecycleBench.Percentiles.Of(starts.Select(s => s.Ms));
        var inspection = await lab.Emulator.InspectAsync();
        var (left, creates) = (inspection.Vms.Count, inspection.Requests.GetValueOrDefault("create"));
        var report = new StringBuilder()
            .AppendLine($"`POST /start` at {rate}/s for {seconds} s on one Server ({engine}, {Environment.ProcessorCount} cores); each lab stopped as soon as its start was answered " +
                "(a session that sees the stop before it made anything makes no Vultr call; one that had begun makes and destroys its group and VM).")
            .AppendLine()
            .AppendLine("| measure | value | goal |")
            .AppendLine("|---|---|---|")
            .AppendLine($"| starts answered 201 | {starts.Count} in {F(sent)} s | |")
            .AppendLine($"| `POST /start` p50 / p95 / p99 (ms) | {F(latency.P50)} / {F(latency.P95)} / {F(latency.P99)} | p99 ≤ 50 |")
            .AppendLine($"| every session ended (VM made and destroyed, or stopped before) after | {F(drained)} s | |")
            .AppendLine($"| VMs created (of {starts.Count} sessions) | {creates} | |")
            .AppendLine($"| VMs left | {left} | 0 |")
            .ToString();
        await WriteAsync(args, report);
        return left == 0 ? 0 : 1;
    }

    public static async Task<int> FleetAsync(string[] args)
    {
        var engine = Engine(args);
        var size = BenchArgs.Int(args, "--fleet", 2000);
        var rate = BenchArgs.Double(args, "--rate", 20);
        Console.WriteLine($"fleet: {size} labs live at once, started at {rate}/s on {engine}, {Environment.ProcessorCount} cores");
        await using var lab = await StartAsync(engine, "Reconciliation:Interval=00:00:30", "LabSessions:IdleTimeout=00:00:00");

        // Booting: every lab started, until all run.
        var calls0 = await CallsAsync(lab);
        var clock = Stopwatch.StartNew();
        var fleet = await StartAtRateAsync(lab, size, rate, 3600);
        Console.WriteLine($"{fleet.Count} started in {clock.Elapsed.TotalSeconds:F0} s");
        await ProcessHost.WaitUntilAsync(async () =>
        {
            var running = await CountAsync(lab, "running");
            Console.WriteLine($"  {clock.Elapsed.TotalSeconds:F0} s: {running} running");
            return running >= size;
        }, TimeSpan.FromMinutes(30), () => "the fleet did not come up");
        var bootSeconds = clock.Elapsed.TotalSeconds;
        var bootRate = (await CallsAsync(lab) - calls0) / bootSeconds;

        // Idle: a reconciliation run over the whole fleet, and the call rate meanwhile.
        var idleFrom = DateTimeOffset.UtcNow;
        var calls1 = await CallsAsync(lab);
        clock.Restart();
        await ProcessHost.WaitUntilAsync(async () => await lab.Db.ScalarAsync<long>(
            $"SELECT count(*) FROM reconciliation_runs WHERE started_at > '{idleFrom.UtcDateTime:O}' AND active_instances >= {size}") > 0,
            TimeSpan.FromMinutes(2), () => "no reconciliation ran over the fleet");
        var reconcileMs = await lab.Db.ScalarAsync<int>($"SELECT duration_ms FROM reconciliation_runs WHERE started_at > '{idleFrom.UtcDateTime:O}' ORDER BY started_at LIMIT 1");
        var taggedVms = await lab.Db.ScalarAsync<int>($"SELECT tagged_vms FROM reconciliation_runs WHERE started_at > '{idleFrom.UtcDateTime:O}' ORDER BY started_at LIMIT 1");
        await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, 60 - clock.Elapsed.TotalSeconds)));
        var idleRate = (await CallsAsync(lab) - calls1) / clock.Elapsed.TotalSeconds;

        // Under that load: the learners' reads, 10 at a time, and new starts at 10/s (each stopped once answered).
        var reads = new ConcurrentBag<double>();
        var picks = new Random(7);
        var sample = Enumerable.Range(0, 1000).Select(_ => fleet[picks.Next(fleet.Count)]).ToList();
        await Parallel.ForEachAsync(sample, new ParallelOptions { MaxDegreeOfParallelism = 10 }, async (s, _) =>
        {
            var watch = Stopwatch.StartNew();
            var (status, _) = await lab.SendAsync(HttpMethod.Get, $"/api/labs/instances/{s.Id}", s.Token);
            reads.Add(watch.Elapsed.TotalMilliseconds);
            if (status != System.Net.HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"GET instance answered {(int)status}");
            }
        });
        var extra = await StartAtRateAsync(lab, 100, 10, 5, s => StopAsync(lab, s));
        var memoryMb = lab.ServerPeakWorkingSet / 1024.0 / 1024.0;

        // Ended: all stopped, every VM gone.
        clock.Restart();
        await Parallel.ForEachAsync(fleet, new ParallelOptions { MaxDegreeOfParallelism = 10 }, async (s, _) => await StopAsync(lab, s));
        await LifecycleBench.WaitForEndAsync(lab, TimeSpan.FromMinutes(30));
        var endSeconds = clock.Elapsed.TotalSeconds;
        var left = (await lab.Emulator.InspectAsync()).Vms.Count;

        var get = LifecycleBench.Percentiles.Of(reads);
        var start = LifecycleBench.Percentiles.Of(extra.Select(s => s.Ms));
        var report = new StringBuilder()
            .AppendLine($"{size} labs live at once on one Server ({engine}, {Environment.ProcessorCount} cores, emulator VMs with their agents), started at {rate}/s.")
            .AppendLine()
            .AppendLine("| measure | value | goal |")
            .AppendLine("|---|---|---|")
            .AppendLine($"| all {size} running after | {F(bootSeconds)} s | |")
            .AppendLine($"| Vultr calls/s while they boot (limit 30, our budget 20) | {F(bootRate)} | |")
            .AppendLine($"| Vultr calls/s while they idle (reconciliation every 30 s included) | {F(idleRate)} | |")
            .AppendLine($"| reconciliation over the whole fleet ({taggedVms} tagged VMs) | {reconcileMs / 1000.0:F1} s | ≤ 10 s |")
            .AppendLine($"| `GET /api/labs/instances/{{id}}` p50 / p99 (ms), 1,000 reads 10 at a time | {P(get)} | |")
            .AppendLine($"| `POST /start` p50 / p99 (ms), 100 at 10/s | {P(start)} | |")
            .AppendLine($"| Server peak working set (MB) | {F(memoryMb)} | |")
            .AppendLine($"| all stopped and their VMs destroyed after | {F(endSeconds)} s | |")
            .AppendLine($"| VMs left | {left} | 0 |")
            .ToString();
        await WriteAsync(args, report);
        return left == 0 ? 0 : 1;
    }
}
