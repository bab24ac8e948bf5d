using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LabManager.Api.Auth;
using LabManager.Server;
using Microsoft.Extensions.DependencyInjection;
using LabManager.Testing;

namespace LabManager.Bench;

/// <summary>
/// API latency against a real Server with PostgreSQL and the embedded emulator, one request at a time:
/// N × GET /api/labs, N × POST /api/labs/{id}/start (N distinct learners), and N × GET /api/labs/instances/{id}
/// without and with the Redis cache (LABMANAGER_BENCH_REDIS). Usage: bench api [--requests N]
/// </summary>
internal static class ApiLatency
{
    public static async Task RunAsync(string[] args)
    {
        var requests = BenchArgs.Int(args, "--requests", 1000);
        await using var db = await TestDatabase.CreateAsync(BenchArgs.Postgres);
        var connection = db.ConnectionString;
        const string Lab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a02";

        string[] serverArgs =
        [
            "--urls", "http://127.0.0.1:0",
            $"--ConnectionStrings:Postgres={connection}",
            "--Auth:SigningKey=bench-signing-key-0123456789abcdef0123456789",
            "--Access:GatewayCidrs:0=127.0.0.1/32",
            $"--Catalog:File={RepoPaths.Catalog}",
            "--Logging:LogLevel:Default=Warning",
            $"--Api:MaxGlobalInstances={requests + 10}",
            "--Emulator:PendingSeconds=2", "--Emulator:BootSeconds=2", "--Emulator:InstallSeconds=2", "--Emulator:CloudInitSeconds=1",
        ];
        var (app, address) = await ServerApp.StartAsync(serverArgs);
        var tokens = app.Services.GetRequiredService<TokenService>();
        var http = new HttpClient { BaseAddress = address };

        async Task<double> TimeAsync(HttpRequestMessage request, int expected)
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            var ms = clock.Elapsed.TotalMilliseconds;
            return (int)response.StatusCode == expected ? ms : throw new InvalidOperationException($"{request.RequestUri} answered {(int)response.StatusCode}");
        }

        HttpRequestMessage Start()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/labs/{Lab}/start") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.MintDevToken(Guid.NewGuid(), null, false, TimeSpan.FromHours(1)));
            return request;
        }

        for (var i = 0; i < 50; i++)
        {
            await TimeAsync(new HttpRequestMessage(HttpMethod.Get, "/api/labs"), 200);
        }

        var list = new List<double>();
        for (var i = 0; i < requests; i++)
        {
            list.Add(await TimeAsync(new HttpRequestMessage(HttpMethod.Get, "/api/labs"), 200));
        }

        var starts = new List<double>();
        for (var i = 0; i < requests; i++)
        {
            starts.Add(await TimeAsync(Start(), 201));
        }

        async Task<List<double>> InstanceReadsAsync()
        {
            var token = tokens.MintDevToken(Guid.NewGuid(), null, false, TimeSpan.FromHours(1));
            var start = new HttpRequestMessage(HttpMethod.Post, $"/api/labs/{Lab}/start") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            start.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var started = await http.SendAsync(start);
            var id = JsonDocument.Parse(await started.Content.ReadAsStringAsync()).RootElement.GetProperty("data").GetProperty("id").GetString();
            HttpRequestMessage Get()
            {
                var request = new HttpRequestMessage(HttpMethod.Get, $"/api/labs/instances/{id}");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                return request;
            }

            for (var i = 0; i < 50; i++)
            {
                await TimeAsync(Get(), 200);
            }

            var reads = new List<double>();
            for (var i = 0; i < requests; i++)
            {
                reads.Add(await TimeAsync(Get(), 200));
            }

            return reads;
        }

        var readsWithoutRedis = await InstanceReadsAsync();

        static string Row(string name, List<double> ms)
        {
            ms.Sort();
            double P(double q) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
            return $"| {name} | {ms.Count} | {P(0.50):F2} | {P(0.95):F2} | {P(0.99):F2} | {ms[^1]:F2} |";
        }

        Console.WriteLine($"API latency on {Environment.ProcessorCount} cores, one request at a time (ms)");
        Console.WriteLine("| request | n | p50 | p95 | p99 | max |");
        Console.WriteLine("|---|---|---|---|---|---|");
        Console.WriteLine(Row("GET /api/labs", list));
        Console.WriteLine(Row("POST /api/labs/{id}/start", starts));
        Console.WriteLine(Row("GET /api/labs/instances/{id}", readsWithoutRedis));

        // The sessions started above hold emulator VMs inside this process; stopping the process ends them with it.
        await app.StopAsync();
        await app.DisposeAsync();
        if (BenchArgs.Redis is { Length: > 0 } redis)
        {
            (app, address) = await ServerApp.StartAsync([.. serverArgs, $"--ConnectionStrings:Redis={redis}"]);
            tokens = app.Services.GetRequiredService<TokenService>();
            http.Dispose();
            http = new HttpClient { BaseAddress = address };
            Console.WriteLine(Row("GET /api/labs/instances/{id} with Redis", await InstanceReadsAsync()));
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
