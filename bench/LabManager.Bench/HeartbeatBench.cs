using System.Diagnostics;
using System.Globalization;
using System.Text;
using LabManager.Core.Instances;
using LabManager.Server;
using LabManager.Testing;
using Npgsql;

namespace LabManager.Bench;

/// <summary>
/// What the labs' heartbeats cost: <c>--labs</c> running instances (1,000) each posting a heartbeat of two containers with 100 log lines
/// each, first at the agent's own rate (one per lab per 30 s, open loop: latency and the share of a core it takes), then as fast as
/// <c>--concurrency</c> senders can (heartbeats per core-second of the Server process and of PostgreSQL), then what is stored per lab.
/// The Server runs in this process, with the emulator's own agents off; the instances are rows, their VMs are not needed.
/// Usage: bench heartbeat [--labs N] [--seconds S] [--concurrency N] [--out FILE]
/// </summary>
internal static class HeartbeatBench
{
    private const string NetworkLab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a03";
    private const string Key = "bench-phone-home-key";

    public static async Task<int> RunAsync(string[] args)
    {
        var labs = BenchArgs.Int(args, "--labs", 1000);
        var seconds = BenchArgs.Int(args, "--seconds", 30);
        var concurrency = BenchArgs.Int(args, "--concurrency", 16);
        var outFile = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault();
        await using var db = await TestDatabase.CreateAsync(BenchArgs.Postgres);
        var (app, address) = await BenchArgs.StartServerAsync(db.ConnectionString,
            $"--LabSessions:PhoneHomeKey={Key}", "--Emulator:Agent=false", "--Reconciliation:Interval=00:00:00",
            "--Agent:MinInterval=00:00:00.5", "--Agent:SilentIntervals=100000");
        try
        {
            var ids = await InsertRunningAsync(db.ConnectionString, labs);
            var body = Body();
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 256 }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
            string Path(Guid id) => $"/api/labs/instances/{id}/heartbeat?key={PhoneHome.Key(Key, id)}&vm=1";
            async Task<(TimeSpan Took, int Status)> PostAsync(Guid id)
            {
                var clock = Stopwatch.StartNew();
                using var response = await http.PostAsync(Path(id), new StringContent(body, Encoding.UTF8, "application/json"));
                return (clock.Elapsed, (int)response.StatusCode);
            }

            // Every lab once, so each has a stored heartbeat before anything is measured.
            foreach (var chunk in ids.Chunk(concurrency))
            {
                await Task.WhenAll(chunk.Select(PostAsync));
            }

            // What the Server spends with no heartbeat at all (its timers, the Durable engine), to tell the heartbeats' own share.
            var idleCpu = Cpu.Now();
            var idleWall = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(10));
            var idle = Cpu.Now() - idleCpu;
            var idleCores = (Server: idle.Server.TotalSeconds / idleWall.Elapsed.TotalSeconds, Postgres: idle.Postgres.TotalSeconds / idleWall.Elapsed.TotalSeconds);

            // The agents' own rate, open loop.
            var rate = labs / 30.0;
            var paced = new List<Task<(TimeSpan Took, int Status)>>();
            var cpu = Cpu.Now();
            var wall = Stopwatch.StartNew();
            for (var i = 0; wall.Elapsed < TimeSpan.FromSeconds(seconds); i++)
            {
                var due = TimeSpan.FromSeconds(i / rate);
                if (due > wall.Elapsed)
                {
                    await Task.Delay(due - wall.Elapsed);
                }

                paced.Add(PostAsync(ids[i % labs]));
            }

            var pacedResults = await Task.WhenAll(paced);
            var pacedCpu = Cpu.Now() - cpu;
            var pacedWall = wall.Elapsed;

            // Saturation: closed loop.
            var done = 0;
            var refused = 0;
            cpu = Cpu.Now();
            wall.Restart();
            var next = 0;
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                while (wall.Elapsed < TimeSpan.FromSeconds(seconds))
                {
                    var (_, status) = await PostAsync(ids[Interlocked.Increment(ref next) % labs]);
                    if (status == 202)
                    {
                        Interlocked.Increment(ref done);
                    }
                    else
                    {
                        Interlocked.Increment(ref refused);
                    }
                }
            }));
            var saturatedCpu = Cpu.Now() - cpu;
            var saturatedWall = wall.Elapsed;

            await using var connection = new NpgsqlConnection(db.ConnectionString);
            await connection.OpenAsync();
            async Task<long> Scalar(string sql)
            {
                await using var command = new NpgsqlCommand(sql, connection);
                return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
            }

            // The live rows as stored (compressed, out of line or not); the tables also hold the dead versions updates leave until vacuumed.
            var latestBytes = await Scalar("SELECT avg(pg_column_size(h.*))::bigint FROM instance_heartbeats h");
            var pointBytes = await Scalar("SELECT avg(pg_column_size(s.*))::bigint + 40 FROM instance_stats s");
            var tableBytes = await Scalar("SELECT pg_total_relation_size('instance_heartbeats') + pg_total_relation_size('instance_stats')");

            var took = pacedResults.Select(r => r.Took.TotalMilliseconds).Order().ToList();
            // The heartbeats' own cost: what the run spent beyond the idle Server's.
            var overhead = TimeSpan.FromSeconds((idleCores.Server + idleCores.Postgres) * saturatedWall.TotalSeconds);
            var perCoreServer = done / (saturatedCpu.Server.TotalSeconds - idleCores.Server * saturatedWall.TotalSeconds);
            var perCoreAll = done / (saturatedCpu.Server + saturatedCpu.Postgres - overhead).TotalSeconds;
            var report = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"`./scripts/bench.sh heartbeat --labs {labs} --seconds {seconds} --concurrency {concurrency}` ({DateTime.UtcNow:yyyy-MM-dd}, this {Environment.ProcessorCount}-core machine)")
                .AppendLine()
                .AppendLine(CultureInfo.InvariantCulture, $"{labs} running labs, each heartbeat {Encoding.UTF8.GetByteCount(body)} bytes (two containers, 100 log lines each); the bench's own HTTP client runs in the Server's process and is counted with it.")
                .AppendLine()
                .AppendLine("| measure | value |")
                .AppendLine("|---|---|")
                .AppendLine(CultureInfo.InvariantCulture, $"| at the agents' rate ({rate:F1}/s for {pacedWall.TotalSeconds:F0} s): accepted | {pacedResults.Count(r => r.Status == 202)} of {pacedResults.Length} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| at the agents' rate: latency p50 / p99 (ms) | {took[took.Count / 2]:F1} / {took[(int)(took.Count * 0.99)]:F1} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| no heartbeats (10 s): cores used, Server / PostgreSQL | {idleCores.Server:F3} / {idleCores.Postgres:F3} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| at the agents' rate: cores used, Server / PostgreSQL | {pacedCpu.Server.TotalSeconds / pacedWall.TotalSeconds:F3} / {pacedCpu.Postgres.TotalSeconds / pacedWall.TotalSeconds:F3} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| saturated ({concurrency} senders, {saturatedWall.TotalSeconds:F0} s): heartbeats/s stored | {done / saturatedWall.TotalSeconds:F0} ({refused} refused as too soon) |")
                .AppendLine(CultureInfo.InvariantCulture, $"| heartbeats per core-second beyond the idle Server: Server process / Server and PostgreSQL together | {perCoreServer:F0} / {perCoreAll:F0} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| labs one core serves at one heartbeat per 30 s (Server and PostgreSQL) | {perCoreAll * 30:F0} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| stored per lab: latest heartbeat, row as stored (bytes) | {latestBytes} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| stored per lab: one point of the series, row and index entry (bytes) | {pointBytes} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| stored per lab-hour (latest + 60 points, bytes) | {latestBytes + 60 * pointBytes} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| both tables on disk after the run, per lab, dead row versions included (bytes) | {tableBytes / labs} |")
                .ToString();
            Console.Write(report);
            if (outFile is not null)
            {
                await File.WriteAllTextAsync(outFile, report);
            }

            return 0;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>Running instances of the network lab, each with a user of its own.</summary>
    private static async Task<List<Guid>> InsertRunningAsync(string connectionString, int labs)
    {
        var ids = Enumerable.Range(0, labs).Select(_ => Guid.NewGuid()).ToList();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            INSERT INTO users (id, username) SELECT id, 'bench' FROM unnest(@ids) AS id;
            INSERT INTO lab_instances (id, user_id, lab_id, status, created_at, started_at, expires_at, updated_at)
            SELECT id, id, @lab, 'running', now(), now(), now() + interval '1 hour', now() - interval '1 minute' FROM unnest(@ids) AS id;
            """, connection);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        command.Parameters.AddWithValue("lab", Guid.Parse(NetworkLab));
        await command.ExecuteNonQueryAsync();
        return ids;
    }

    /// <summary>A heartbeat as the agent sends it for two containers, with 100 lines of each one's log.</summary>
    private static string Body()
    {
        static string Tail(string name) => Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 100).Select(i =>
            $"2026-12-02T08:00:{i % 60:00}Z {name}[1]: 10.0.0.{i % 250} - - \"GET /index.php?page={i} HTTP/1.1\" 200 {1000 + i}\n"))));
        return $$"""{"boot":1,"containers":[{"name":"/web","state":"running","exitCode":0,"restarts":0,"health":"healthy"},{"name":"/db","state":"running","exitCode":0,"restarts":0,"health":null}],"stats":[{"name":"web","cpu":"1.25%","mem":"180MiB / 768MiB","net":"1.2MB / 3.4MB"},{"name":"db","cpu":"0.40%","mem":"90MiB / 256MiB","net":"20kB / 15kB"}],"logs":[{"name":"web","tail":"{{Tail("web")}}"},{"name":"db","tail":"{{Tail("db")}}"}],"restarted":[]}""";
    }

    /// <summary>CPU time of this process and of every PostgreSQL process on the machine (bench.sh starts the only one), from <c>/proc</c>.</summary>
    private sealed record Cpu(TimeSpan Server, TimeSpan Postgres)
    {
        public static Cpu Now() => new(Process.GetCurrentProcess().TotalProcessorTime, Directory.GetDirectories("/proc").Where(d => System.IO.Path.GetFileName(d).All(char.IsAsciiDigit)).Aggregate(TimeSpan.Zero, (sum, dir) =>
        {
            try
            {
                var stat = File.ReadAllText(System.IO.Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                if (stat[(stat.IndexOf('(') + 1)..close] != "postgres")
                {
                    return sum;
                }

                // After the name: state is field 3, utime and stime fields 14 and 15, in clock ticks of 1/100 s.
                var fields = stat[(close + 2)..].Split(' ');
                return sum + TimeSpan.FromSeconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process ended meanwhile.
                return sum;
            }
        }));

        public static Cpu operator -(Cpu a, Cpu b) => new(a.Server - b.Server, a.Postgres - b.Postgres);
    }
}
