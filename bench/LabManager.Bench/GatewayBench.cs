using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LabManager.Api.Auth;
using LabManager.Server;
using LabManager.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Bench;

/// <summary>
/// What the access gateway adds over a direct connection to the lab: latency at a steady request rate (open loop: a request is sent
/// every 1/rate s whatever the answers, so queueing shows), and the throughput of one large download. One Server with the embedded
/// emulator (its lab app serves the VM side, in the same process), PostgreSQL from the bench script.
/// Usage: bench gateway [--rate N] [--seconds S] [--mb N]
/// </summary>
internal static class GatewayBench
{
    private const string JuiceShop = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a02";

    public static async Task<int> RunAsync(string[] args)
    {
        var rate = BenchArgs.Int(args, "--rate", 200);
        var seconds = BenchArgs.Int(args, "--seconds", 15);
        var mb = BenchArgs.Int(args, "--mb", 50);
        await using var db = await TestDatabase.CreateAsync(BenchArgs.Postgres);
        var (app, address) = await BenchArgs.StartServerAsync(db.ConnectionString,
            "--Emulator:PendingSeconds=1", "--Emulator:BootSeconds=1", "--Emulator:InstallSeconds=1", "--Emulator:CloudInitSeconds=1");
        try
        {
            var tokens = app.Services.GetRequiredService<TokenService>();
            var token = tokens.MintDevToken(Guid.NewGuid(), null, false, TimeSpan.FromHours(1));
            var admin = tokens.MintDevToken(Guid.NewGuid(), null, true, TimeSpan.FromHours(1));
            using var api = new HttpClient { BaseAddress = address };
            var id = (await SendAsync(api, HttpMethod.Post, $"/api/labs/{JuiceShop}/start", token, "{}")).GetProperty("id").GetString()!;
            var clock = Stopwatch.StartNew();
            while ((await SendAsync(api, HttpMethod.Get, $"/api/labs/instances/{id}", token)).GetProperty("status").GetString() != "running")
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(2))
                {
                    throw new TimeoutException("the lab did not start");
                }

                await Task.Delay(200);
            }

            var ip = (await SendAsync(api, HttpMethod.Get, "/api/admin/instances", admin)).EnumerateArray()
                .Single(i => i.GetProperty("id").GetString() == id).GetProperty("publicIp").GetString()!;
            var link = (await SendAsync(api, HttpMethod.Post, $"/api/labs/instances/{id}/access", token)).GetProperty("url").GetString()!;

            // The gateway's client: *.lab.localhost goes to the Server, as a browser resolves it; its cookie comes from the link's ticket.
            using var gateway = new HttpClient(new SocketsHttpHandler
            {
                UseProxy = false,
                AllowAutoRedirect = true,
                MaxConnectionsPerServer = 256,
                ConnectCallback = async (context, ct) =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            }) { Timeout = TimeSpan.FromMinutes(2) };
            (await gateway.GetAsync(link)).EnsureSuccessStatusCode();
            using var direct = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 256 }) { Timeout = TimeSpan.FromMinutes(2) };
            var labUrl = new Uri(link).GetLeftPart(UriPartial.Authority);
            var vmUrl = $"http://{ip}:3000";

            Console.WriteLine($"Access gateway on {Environment.ProcessorCount} cores: {rate} requests/s for {seconds} s each way (open loop), then {mb} MB downloads");
            var directMs = await SteadyAsync(direct, vmUrl + "/", rate, seconds);
            var gatewayMs = await SteadyAsync(gateway, labUrl + "/", rate, seconds);
            Console.WriteLine("| path | n | p50 ms | p99 ms | max ms |");
            Console.WriteLine("|---|---|---|---|---|");
            Console.WriteLine(Row("direct to the VM", directMs));
            Console.WriteLine(Row("through the gateway", gatewayMs));
            Console.WriteLine($"added by the gateway: p50 {P(gatewayMs, 0.5) - P(directMs, 0.5):F2} ms, p99 {P(gatewayMs, 0.99) - P(directMs, 0.99):F2} ms");

            var directMbs = await DownloadAsync(direct, $"{vmUrl}/bytes/{mb * 1024L * 1024}");
            var gatewayMbs = await DownloadAsync(gateway, $"{labUrl}/bytes/{mb * 1024L * 1024}");
            Console.WriteLine($"{mb} MB download (median of 5): direct {directMbs:F0} MB/s, through the gateway {gatewayMbs:F0} MB/s ({100 * gatewayMbs / directMbs:F0} % of direct)");
            await SendAsync(api, HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
            while ((await SendAsync(api, HttpMethod.Get, $"/api/labs/instances/{id}", token)).GetProperty("status").GetString() != "stopped")
            {
                await Task.Delay(200);
            }

            return 0;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>Sends a GET every 1/rate s for the given time (after a one-second warm-up), each timed from when it was due.</summary>
    private static async Task<List<double>> SteadyAsync(HttpClient http, string url, int rate, int seconds)
    {
        async Task<double> OneAsync(long due, Stopwatch clock)
        {
            using var response = await http.GetAsync(url);
            await response.Content.ReadAsByteArrayAsync();
            response.EnsureSuccessStatusCode();
            return (clock.ElapsedTicks - due) * 1000.0 / Stopwatch.Frequency;
        }

        await Task.WhenAll(Enumerable.Range(0, rate).Select(_ => http.GetAsync(url)));
        var clock = Stopwatch.StartNew();
        var all = new List<Task<double>>();
        var interval = Stopwatch.Frequency / (double)rate;
        for (var n = 0; n < rate * seconds; n++)
        {
            var due = (long)(n * interval);
            while (clock.ElapsedTicks < due)
            {
                if (due - clock.ElapsedTicks > Stopwatch.Frequency / 500)
                {
                    await Task.Delay(1);
                }
                else
                {
                    Thread.SpinWait(50);
                }
            }

            all.Add(OneAsync(due, clock));
        }

        return [.. await Task.WhenAll(all)];
    }

    private static async Task<double> DownloadAsync(HttpClient http, string url)
    {
        var rates = new List<double>();
        var buffer = new byte[128 * 1024];
        for (var i = 0; i < 6; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            long total = 0;
            for (int n; (n = await body.ReadAsync(buffer)) > 0;)
            {
                total += n;
            }

            if (i > 0)
            {
                rates.Add(total / 1024.0 / 1024 / clock.Elapsed.TotalSeconds);
            }
        }

        rates.Sort();
        return rates[rates.Count / 2];
    }

    private static double P(List<double> ms, double q)
    {
        var sorted = ms.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
    }

    private static string Row(string name, List<double> ms) => $"| {name} | {ms.Count} | {P(ms, 0.5):F2} | {P(ms, 0.99):F2} | {ms.Max():F2} |";

    private static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, string token, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.GetProperty("data").Clone() : throw new InvalidOperationException($"{path} answered {(int)response.StatusCode}: {text}");
    }
}
