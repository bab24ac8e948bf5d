using Microsoft.AspNetCore.SignalR.Client;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using LabManager.Core.Instances;
using LabManager.Server.Durable;
using LabManager.Testing;
using LabManager.VultrEmulator;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace LabManager.Bench;

/// <summary>
/// The lab lifecycle benchmark: the Server as its own process with the Vultr emulator (VM boot 2 s, cloud-init 1 s), on the
/// in-memory and the Azure Storage (Azurite) engines, with the product's default workflow timings. Labs arrive through the
/// HTTP API at a fixed rate, each with a short lifetime, then a burst measures throughput at saturation. With --compare, the
/// same arrivals run through a fixed-interval poller and a 5-minute cleanup cron, as the seed design has it.
/// Usage: bench lifecycle [--labs 30] [--rate 1] [--lifetime 20] [--burst 100] [--trivial 300] [--engine both|inmemory|azurestorage] [--compare] [--out FILE];
/// a lifetime of 0 stops each lab as soon as it runs (the burst's labs always are). With --pool N, the warm pool's benchmark
/// (<see cref="PoolBench"/>); with --fleet N or --start-rate R, the deployment's limits (<see cref="FleetBench"/>).
/// </summary>
internal static class LifecycleBench
{
    private const string Lab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a01";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
    private static readonly string[] EmulatorSettings =
    [
        "Emulator:PendingSeconds=0.5", "Emulator:BootSeconds=0.5", "Emulator:InstallSeconds=1", "Emulator:CloudInitSeconds=1",
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--pool"))
        {
            return await PoolBench.RunAsync(args);
        }

        if (args.Contains("--fleet"))
        {
            return await FleetBench.FleetAsync(args);
        }

        if (args.Contains("--start-rate"))
        {
            return await FleetBench.StartRateAsync(args);
        }

        var size = new Size(
            BenchArgs.Int(args, "--labs", 30), BenchArgs.Double(args, "--rate", 1), BenchArgs.Int(args, "--lifetime", 20),
            BenchArgs.Int(args, "--burst", 100), BenchArgs.Int(args, "--trivial", 300));
        var engineArg = args.SkipWhile(a => a != "--engine").Skip(1).FirstOrDefault() ?? "both";
        string[] engines = engineArg == "both" ? ["InMemory", "AzureStorage"] : [engineArg.Equals("inmemory", StringComparison.OrdinalIgnoreCase) ? "InMemory" : "AzureStorage"];
        // --replicas N: the durable engine on one Server and on N side by side (replicas share one task hub, database and Redis).
        var replicas = BenchArgs.Int(args, "--replicas", 1);
        Console.WriteLine($"lifecycle: {size.Labs} labs at {size.Rate}/s, lifetime {size.LifetimeSeconds} s, burst {size.Burst}, trivial {size.Trivial}, " +
            $"engines {string.Join(", ", engines)}, {Environment.ProcessorCount} cores");

        var results = new List<EngineResult>();
        foreach (var (engine, count) in replicas > 1 ? [("AzureStorage", 1), ("AzureStorage", replicas)] : engines.Select(e => (e, 1)))
        {
            results.Add(await RunEngineAsync(engine, size, count));
        }

        NaiveResult? naive = args.Contains("--compare") ? await NaiveLifecycle.RunAsync(size) : null;
        var report = Report(size, results, naive);
        Console.WriteLine(report);
        var json = JsonSerializer.Serialize(new { size, results, naive }, Json);
        Console.WriteLine(json);
        if (args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() is { } path)
        {
            await File.WriteAllTextAsync(path + ".md", $"`./scripts/bench.sh lifecycle {string.Join(' ', args.TakeWhile(a => a != "--out"))}`\n\n{report}");
            await File.WriteAllTextAsync(path + ".json", json);
        }

        return results.All(r => r.VmsLeaked == 0) ? 0 : 1;
    }

    public sealed record Size(int Labs, double Rate, int LifetimeSeconds, int Burst, int Trivial);

    public sealed record Percentiles(double P50, double P95, double P99, int Count)
    {
        public static Percentiles Of(IEnumerable<double> values)
        {
            var sorted = values.Order().ToList();
            double P(double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
            return new(P(0.50), P(0.95), P(0.99), sorted.Count);
        }
    }

    public sealed record EngineResult(
        string Engine,
        Percentiles StartLatencyMs,
        Percentiles OverheadToReadyMs,
        Percentiles DestroyLagMs,
        double CallsPerSession,
        IReadOnlyDictionary<string, double> CallsPerSessionByKind,
        int PeakRequestsPerSecond,
        double LabsPerSecondAtSaturation,
        double BurstMakespanSeconds,
        double TrivialOrchestrationsPerSecond,
        int VmsLeaked,
        double WastedVmSecondsAfterExpiry,
        double PeakServerWorkingSetMb,
        int Replicas = 1,
        Percentiles? PushToLastReplicaMs = null,
        double ActivitiesPerSecondAtSaturation = double.NaN,
        double ActivitiesPerLab = double.NaN,
        double BurstVmCallsPerSession = double.NaN);

    public sealed record NaiveResult(Percentiles OverheadToReadyMs, Percentiles DestroyLagMs, double WastedVmSecondsAfterExpiry, int PollSeconds, int CronSeconds);

    private static async Task<EngineResult> RunEngineAsync(string engine, Size size, int replicas)
    {
        Console.WriteLine($"== {engine} × {replicas}");
        string[] settings =
        [
            $"Durable:Backend={engine}", "Api:MinSessionLength=00:00:05", "Api:MaxGlobalInstances=100000", "Api:MaxStartsPerWindow=10000",
            "Reconciliation:Interval=00:00:00", "Logging:LogLevel:Default=Error",
        ];
        await using var lab = await ServerProcesses.StartAsync(BenchArgs.Azurite, EmulatorSettings,
            replicas > 1 ? [.. settings, $"ConnectionStrings:Redis={BenchArgs.Redis ?? throw new InvalidOperationException("replicas need Redis: run with ./scripts/bench.sh")}"] : settings,
            BenchArgs.Postgres);
        var servers = new List<HttpClient> { lab.Api };
        for (var i = 1; i < replicas; i++)
        {
            servers.Add(await lab.StartReplicaAsync());
        }

        // An operator's live connection on the last replica: when does each lab's "running" reach it?
        var running = new System.Collections.Concurrent.ConcurrentDictionary<string, TimeSpan>();
        var ran = new System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource>();
        TaskCompletionSource Ran(string id) => ran.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await using var watcher = new HubConnectionBuilder()
            .WithUrl(new Uri(servers[^1].BaseAddress!, "/hubs/labs"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(lab.Token(Guid.NewGuid(), admin: true)))
            .Build();
        watcher.On<System.Text.Json.Nodes.JsonObject>("lab:status", m =>
        {
            if (m["status"]?.GetValue<string>() == "running")
            {
                running.TryAdd(m["instanceId"]!.GetValue<string>(), DateTimeOffset.UtcNow - m["at"]!.GetValue<DateTimeOffset>());
                Ran(m["instanceId"]!.GetValue<string>()).TrySetResult();
            }
        });
        await watcher.StartAsync();
        var next = 0;
        // A lifetime of 0: the lab is stopped as soon as it runs (its session still lasts the shortest the API allows, should the stop be lost).
        async Task<double> Start(int lifetimeSeconds)
        {
            var server = servers[Interlocked.Increment(ref next) % servers.Count];
            var (ms, id, token) = await StartAsync(lab, server, Math.Max(lifetimeSeconds, 5));
            if (lifetimeSeconds == 0)
            {
                await Ran(id).Task.WaitAsync(TimeSpan.FromMinutes(10));
                await lab.SendAsync(server, HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
            }

            return ms;
        }

        // Steady arrivals.
        var clock = Stopwatch.StartNew();
        var starts = await Task.WhenAll(Enumerable.Range(0, size.Labs).Select(async i =>
        {
            var due = TimeSpan.FromSeconds(i / size.Rate) - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }

            return await Start(size.LifetimeSeconds);
        }));
        await WaitForEndAsync(lab, TimeSpan.FromSeconds(size.LifetimeSeconds + 180));
        var steady = await lab.Emulator.InspectAsync();
        var rows = await RowsAsync(lab.Db.ConnectionString);
        var byLabel = steady.Deleted.ToDictionary(d => d.Label);
        var overhead = rows.Where(r => r.StartedAt is not null && byLabel.GetValueOrDefault(r.Label)?.LabUpAt is not null)
            .Select(r => (r.StartedAt!.Value - byLabel[r.Label].LabUpAt!.Value).TotalMilliseconds);
        var lag = rows.Where(r => r.ExpiresAt is not null && byLabel.ContainsKey(r.Label))
            .Select(r => (byLabel[r.Label].DeletedAt - r.ExpiresAt!.Value).TotalMilliseconds).ToList();
        var calls = steady.Requests.Where(kv => !kv.Key.StartsWith("answered_", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => (double)kv.Value / size.Labs);

        // Saturation: a burst, all at once, of labs stopped as soon as they run: what the engine gets through, beside its trivial rate.
        var activitiesBefore = await ActivitiesAsync(servers);
        clock.Restart();
        await Task.WhenAll(Enumerable.Range(0, size.Burst).Select(_ => Start(0)));
        await WaitForEndAsync(lab, TimeSpan.FromSeconds(600));
        var makespan = clock.Elapsed.TotalSeconds;
        var burstActivities = await ActivitiesAsync(servers) - activitiesBefore;
        var final = await lab.Emulator.InspectAsync();
        var burstVmCalls = final.Requests.Where(kv => !kv.Key.StartsWith("answered_", StringComparison.Ordinal) && !kv.Key.Contains("firewalls", StringComparison.Ordinal))
            .Sum(kv => kv.Value - steady.Requests.GetValueOrDefault(kv.Key)) / (double)size.Burst;
        var peakMb = lab.ServerPeakWorkingSet / 1024.0 / 1024.0;
        var trivial = await TrivialThroughputAsync(engine, size.Trivial);
        Console.WriteLine($"burst: {size.Burst} labs in {makespan:F1} s, {burstActivities} activity executions");

        // From the workflow's step sending "running" (the message's at) to the push reaching the last replica's connection.
        var push = running.Values.Select(t => t.TotalMilliseconds);
        var result = new EngineResult(engine, Percentiles.Of(starts), Percentiles.Of(overhead), Percentiles.Of(lag), calls.Values.Sum(), calls,
            steady.PeakRequestsPerSecond, size.Burst / makespan, makespan, trivial, final.Vms.Count, lag.Where(l => l > 0).Sum() / 1000, peakMb,
            replicas, Percentiles.Of(push), burstActivities / makespan, (double)burstActivities / size.Burst, burstVmCalls);
        Console.WriteLine(JsonSerializer.Serialize(result, Json));
        return result;
    }

    /// <summary>A new learner starts the lab: the answer's latency in ms, the instance's id and the learner's token.</summary>
    internal static async Task<(double Ms, string Id, string Token)> StartAsync(ServerProcesses lab, HttpClient server, int lifetimeSeconds)
    {
        var token = lab.Token(Guid.NewGuid());
        var clock = Stopwatch.StartNew();
        var (status, body) = await lab.SendAsync(server, HttpMethod.Post, $"/api/labs/{Lab}/start", token, $$"""{"timeoutOverride": {{lifetimeSeconds * 1000}}}""");
        var ms = clock.Elapsed.TotalMilliseconds;
        return status == HttpStatusCode.Created ? (ms, body["data"]!["id"]!.GetValue<string>(), token) : throw new InvalidOperationException($"start answered {(int)status}: {body.ToJsonString()}");
    }

    /// <summary>Activity executions the Servers' Durable workers ran so far (their <c>labmanager_durable_activities_total</c>).</summary>
    internal static async Task<long> ActivitiesAsync(IEnumerable<HttpClient> servers)
    {
        long total = 0;
        foreach (var server in servers)
        {
            var text = await server.GetStringAsync("/metrics");
            total += text.Split('\n').Where(l => l.StartsWith("labmanager_durable_activities_total", StringComparison.Ordinal))
                .Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }

        return total;
    }

    internal static Task WaitForEndAsync(ServerProcesses lab, TimeSpan timeout) => ProcessHost.WaitUntilAsync(
        async () => await lab.Db.ScalarAsync<long>("SELECT count(*) FROM lab_instances WHERE status IN ('starting', 'provisioning', 'running', 'stopping')") == 0,
        timeout, () => "labs did not end in time");

    private sealed record Row(string Label, DateTimeOffset? StartedAt, DateTimeOffset? ExpiresAt);

    private static async Task<List<Row>> RowsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, started_at, expires_at FROM lab_instances", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<Row>();
        while (await reader.ReadAsync())
        {
            rows.Add(new Row(LabInstance.VmLabel(reader.GetGuid(0)),
                reader.IsDBNull(1) ? null : new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero),
                reader.IsDBNull(2) ? null : new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero)));
        }

        return rows;
    }

    /// <summary>The same engine running a one-activity orchestration, <paramref name="count"/> at once: orchestrations per second.</summary>
    internal static async Task<double> TrivialThroughputAsync(string engine, int count)
    {
        static void Register(DurableTaskRegistry r) => r
            .AddOrchestratorFunc<int, int>("Trivial", (ctx, n) => ctx.CallActivityAsync<int>("Echo", n))
            .AddActivityFunc<int, int>("Echo", (_, n) => n);

        async Task<double> TimeAsync(DurableTaskClient client)
        {
            // Warmed up first: a process's first orchestration takes seconds (connections, JIT), which is not the engine's rate.
            await Task.WhenAll((await Task.WhenAll(Enumerable.Range(0, 10).Select(i => client.ScheduleNewOrchestrationInstanceAsync("Trivial", i))))
                .Select(id => client.WaitForInstanceCompletionAsync(id)));
            using var activities = new DurableActivityCount();
            var clock = Stopwatch.StartNew();
            var ids = await Task.WhenAll(Enumerable.Range(0, count).Select(i => client.ScheduleNewOrchestrationInstanceAsync("Trivial", i)));
            await Task.WhenAll(ids.Select(id => client.WaitForInstanceCompletionAsync(id)));
            Console.WriteLine($"trivial: {count} orchestrations, {activities.Count} activity executions in {clock.Elapsed.TotalSeconds:F2} s");
            return count / clock.Elapsed.TotalSeconds;
        }

        var quiet = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["LogLevel:Default"] = "Error" }).Build();
        await using var sidecar = await DurableSidecar.StartAsync(
            new DurableOptions { Backend = engine, StorageConnectionString = BenchArgs.Azurite, TaskHub = "trivial" + Guid.NewGuid().ToString("N")[..8] }, quiet);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddDurableTaskWorker(b => b.AddTasks(Register).UseGrpc(sidecar.Address));
        builder.Services.AddDurableTaskClient(b => b.UseGrpc(sidecar.Address));
        using var app = builder.Build();
        await app.StartAsync();
        var perSecond = await TimeAsync(app.Services.GetRequiredService<DurableTaskClient>());
        await app.StopAsync();
        return perSecond;
    }

    private static string Report(Size size, List<EngineResult> results, NaiveResult? naive)
    {
        static string F(double v) => double.IsNaN(v) ? "–" : v.ToString("F1", CultureInfo.InvariantCulture);
        static string P(Percentiles p, bool p95 = false) => p95 ? $"{F(p.P50)} / {F(p.P95)} / {F(p.P99)}" : $"{F(p.P50)} / {F(p.P99)}";
        var text = new StringBuilder();
        text.AppendLine($"Lab lifecycle on {Environment.ProcessorCount} cores: {size.Labs} labs at {size.Rate}/s with a {size.LifetimeSeconds} s lifetime, then a burst of {size.Burst}; " +
            "emulator VM boot 2 s + cloud-init 1 s; default workflow timings; Vultr's 30 calls/s, our limiter's 20/s.")
            .AppendLine()
            .AppendLine($"| measure | {string.Join(" | ", results.Select(r => r.Replicas > 1 || results.Any(o => o.Replicas > 1) ? $"{r.Engine} × {r.Replicas}" : r.Engine))} |")
            .AppendLine($"|---|{string.Concat(results.Select(_ => "---|"))}");
        void Row(string name, Func<EngineResult, string> value) => text.AppendLine($"| {name} | {string.Join(" | ", results.Select(value))} |");
        Row("`POST /start` latency p50 / p95 / p99 (ms)", r => P(r.StartLatencyMs, p95: true));
        Row("overhead to ready p50 / p99 (ms): lab app up → instance running", r => P(r.OverheadToReadyMs));
        Row("destroy lag p50 / p99 (ms): `expires_at` → Vultr DELETE", r => P(r.DestroyLagMs));
        static string Calls(EngineResult r, bool firewall)
        {
            var kinds = r.CallsPerSessionByKind.Where(kv => kv.Key.Contains("firewalls", StringComparison.Ordinal) == firewall).OrderByDescending(kv => kv.Value).ToList();
            return $"{F(kinds.Sum(kv => kv.Value))} ({string.Join(", ", kinds.Select(kv => $"{kv.Key} {F(kv.Value)}"))})";
        }

        Row("Vultr calls per session: VM (goal ≤ 3)", r => Calls(r, firewall: false));
        Row("Vultr calls per session: VM, in the burst", r => F(r.BurstVmCallsPerSession));
        Row("Vultr calls per session: firewall group", r => Calls(r, firewall: true));
        Row("peak Vultr requests/s (limit 30)", r => r.PeakRequestsPerSecond.ToString(CultureInfo.InvariantCulture));
        Row($"labs completed/s at saturation (burst of {size.Burst} stopped once running, makespan)", r => $"{r.LabsPerSecondAtSaturation:F2} ({F(r.BurstMakespanSeconds)} s)");
        Row("activity executions/s at saturation (per lab)", r => $"{F(r.ActivitiesPerSecondAtSaturation)} ({F(r.ActivitiesPerLab)})");
        Row("trivial one-activity orchestrations/s = activity executions/s, same engine", r => F(r.TrivialOrchestrationsPerSecond));
        Row("lab workflow's activity rate ÷ trivial's (goal ≥ 80 %)", r => $"{r.ActivitiesPerSecondAtSaturation / r.TrivialOrchestrationsPerSecond * 100:F0} %");
        Row("VMs leaked", r => r.VmsLeaked.ToString(CultureInfo.InvariantCulture));
        Row("VM-seconds paid after expiry (steady phase)", r => F(r.WastedVmSecondsAfterExpiry));
        Row("peak Server working set (MB)", r => F(r.PeakServerWorkingSetMb));
        Row("push p50 / p99 (ms): the step sending running → a connection on the last replica", r => r.PushToLastReplicaMs is { } p ? P(p) : "–");
        if (naive is not null)
        {
            // Against the engine production runs on when it was measured.
            var ours = results.LastOrDefault(r => r.Engine == "AzureStorage") ?? results[0];
            text.AppendLine()
                .AppendLine($"Comparison with fixed {naive.PollSeconds} s polling and a {naive.CronSeconds / 60} min cleanup cron (same arrivals):")
                .AppendLine()
                .AppendLine($"| measure | {ours.Engine} | polling + cron |")
                .AppendLine("|---|---|---|")
                .AppendLine($"| overhead to ready p50 / p99 (ms) | {P(ours.OverheadToReadyMs)} | {P(naive.OverheadToReadyMs)} |")
                .AppendLine($"| destroy lag p50 / p99 (ms) | {P(ours.DestroyLagMs)} | {P(naive.DestroyLagMs)} |")
                .AppendLine($"| VM-seconds paid after expiry | {F(ours.WastedVmSecondsAfterExpiry)} | {F(naive.WastedVmSecondsAfterExpiry)} |")
                .AppendLine($"| ratio of wasted VM-seconds (polling + cron ÷ ours) | | {F(naive.WastedVmSecondsAfterExpiry / Math.Max(ours.WastedVmSecondsAfterExpiry, 0.001))} |");
        }

        return text.ToString();
    }
}
