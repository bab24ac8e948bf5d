using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Core.Instances;
using LabManager.Testing;
using LabManager.VultrEmulator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;
using Xunit.Abstractions;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>
/// Two replicas on one database, Redis, task hub and emulator: A (its own process) is killed with SIGKILL mid-lifecycle, and B takes
/// its sessions over and finishes them.
/// </summary>
[Collection(ServerProcessTests.Collection)]
public sealed class FailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcesses _a = null!;
    private WebApplication _b = null!;
    private HttpClient _bHttp = null!;
    private WebApplication _balancer = null!;
    private const int VultrBudget = 5;
    private volatile bool _aAlive = true;

    private static string Required(string variable) => Environment.GetEnvironmentVariable(variable)
        ?? throw new InvalidOperationException($"{variable} is not set: run the tests with ./scripts/test.sh");

    public async Task InitializeAsync()
    {
        // A small Vultr budget, so that it binds: both replicas together keep to it.
        string[] shared = [.. ServerProcesses.FastTimings, $"ConnectionStrings:Redis={Required("LABMANAGER_TEST_REDIS")}", $"Vultr:MaxRequestsPerSecond={VultrBudget}"];
        _a = await ServerProcesses.StartAsync(Required("LABMANAGER_TEST_AZURITE"),
            ["Emulator:PendingSeconds=2", "Emulator:BootSeconds=2", "Emulator:InstallSeconds=2", "Emulator:CloudInitSeconds=1"], shared);
        var port = ProcessHost.FreePort();
        (_b, var address) = await ServerApp.StartAsync(
        [
            "--urls", $"http://127.0.0.1:{port}",
            "--Durable:Backend=AzureStorage", $"--Durable:TaskHub={_a.TaskHub}", $"--Durable:StorageConnectionString={_a.Storage}", "--Durable:WorkerId=replica-b",
            $"--ConnectionStrings:Postgres={_a.Db.ConnectionString}", $"--Auth:SigningKey={ServerProcesses.SigningKey}", $"--Catalog:File={RepoPaths.Catalog}",
            $"--Vultr:BaseUrl={_a.EmulatorUrl}/v2", "--Vultr:ApiKey=local-emulator-key", "--Logging:LogLevel:Default=Warning",
            $"--LabSessions:PhoneHomeUrl=http://127.0.0.1:{port}/api/labs/instances/{{instanceId}}/ready?key={{key}}",
            "--LabSessions:PhoneHomeKey=process-phone-home-key", "--Access:GatewayCidrs:0=127.0.0.1/32", $"--Access:LabPort={port}",
            .. shared.Select(s => "--" + s),
        ]);
        _bHttp = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };

        // A load balancer in a few lines (YARP): everything to A while it lives, then to B.
        var balancer = WebApplication.CreateSlimBuilder(["--urls", $"http://127.0.0.1:{ProcessHost.FreePort()}"]);
        balancer.Logging.ClearProviders();
        balancer.Services.AddHttpForwarder();
        _balancer = balancer.Build();
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false });
        var a = _a.Api.BaseAddress!.ToString().TrimEnd('/');
        var b = address.ToString().TrimEnd('/');
        _balancer.Map("{**path}", (HttpContext http, IHttpForwarder forwarder) => forwarder.SendAsync(http, _aAlive ? a : b, invoker).AsTask());
        await _balancer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _balancer.DisposeAsync();
        _bHttp.Dispose();
        await _b.StopAsync();
        await _b.DisposeAsync();
        await _a.DisposeAsync();
    }

    [Fact]
    public async Task AReplicaKilledMidLifecycle_TheOtherFinishesItsSessions_OneVmEach_NoneLeft()
    {
        var tokens = Enumerable.Range(0, 3).Select(_ => _a.Token(Guid.NewGuid())).ToList();
        // Through A: running (R), being destroyed (S), provisioning (P).
        var r = await StartOnAAsync(JuiceShopLab, tokens[0]);
        var s = await StartOnAAsync(CryptoLab, tokens[1]);
        await WaitAsync(r, tokens[0], "running");
        await WaitAsync(s, tokens[1], "running");
        var p = await StartOnAAsync(DvwaLab, tokens[2]);
        await WaitAsync(p, tokens[2], "provisioning");
        // An operator's live connection through the balancer, on A until it dies.
        var statuses = new System.Collections.Concurrent.ConcurrentQueue<(string Id, string Status)>();
        var reconnected = new TaskCompletionSource();
        await using var watcher = new HubConnectionBuilder()
            .WithUrl(new Uri(_balancer.Urls.First() + "/hubs/labs"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(_a.Token(Guid.NewGuid(), admin: true)))
            .WithAutomaticReconnect()
            .Build();
        watcher.On<JsonObject>("lab:status", m => statuses.Enqueue((m["instanceId"]!.GetValue<string>(), m["status"]!.GetValue<string>())));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        watcher.Reconnecting += _ =>
        {
            output.WriteLine($"live connection lost at {clock.Elapsed.TotalSeconds:F1} s");
            return Task.CompletedTask;
        };
        watcher.Reconnected += _ =>
        {
            output.WriteLine($"live connection back at {clock.Elapsed.TotalSeconds:F1} s");
            reconnected.TrySetResult();
            return Task.CompletedTask;
        };
        await watcher.StartAsync();
        await _a.Emulator.SetFaultsAsync(new FaultSettings { LatencyMs = 3000 });
        await _a.SendAsync(HttpMethod.Post, $"/api/labs/instances/{s}/stop", tokens[1]);
        await WaitAsync(s, tokens[1], "stopping");

        await _a.KillServerAsync();
        _aAlive = false;
        output.WriteLine($"A killed at {clock.Elapsed.TotalSeconds:F1} s");
        await _a.Emulator.SetFaultsAsync(new FaultSettings());
        var killed = DateTimeOffset.UtcNow;

        // B takes over A's share of the task hub once A's leases lapse, and every session carries on.
        await WaitAsync(s, tokens[1], "stopped", TimeSpan.FromSeconds(120));
        await WaitAsync(p, tokens[2], "running", TimeSpan.FromSeconds(120));
        output.WriteLine($"A killed → its sessions resumed on B: {(DateTimeOffset.UtcNow - killed).TotalSeconds:F0} s");
        // The live connection came back through the balancer, to B (what it missed meanwhile, a page reads again), and hears what B does.
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var (id, token) in new[] { (r, tokens[0]), (p, tokens[2]) })
        {
            await SendOnBAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
            await WaitAsync(id, token, "stopped", TimeSpan.FromSeconds(60));
        }

        for (var waited = 0; !statuses.Contains((r, "stopped")) || !statuses.Contains((p, "stopped")); waited += 100)
        {
            Assert.True(waited < 10_000, $"the live connection heard only {string.Join(", ", statuses)} (r {r}, p {p})");
            await Task.Delay(100);
        }

        var inspection = await _a.Emulator.InspectAsync();
        foreach (var id in new[] { r, s, p })
        {
            var label = LabInstance.VmLabel(Guid.Parse(id));
            Assert.Equal(1, inspection.Creates.GetValueOrDefault(label));
            Assert.Equal(1, inspection.Deletes.GetValueOrDefault(label));
        }

        Assert.Empty(inspection.Vms);
        // The two replicas kept to one Vultr budget (Redis), in every one of the emulator's seconds.
        output.WriteLine($"peak Vultr calls/s for both replicas: {inspection.PeakRequestsPerSecond} (budget {VultrBudget})");
        Assert.InRange(inspection.PeakRequestsPerSecond, 1, VultrBudget);
        Assert.Equal(0, inspection.Requests.GetValueOrDefault("answered_429"));
    }

    private async Task<string> StartOnAAsync(string lab, string token)
    {
        var (status, body) = await _a.SendAsync(HttpMethod.Post, $"/api/labs/{lab}/start", token, """{"timeoutOverride": 1800000}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return body["data"]!["id"]!.GetValue<string>();
    }

    private async Task<JsonObject> SendOnBAsync(HttpMethod method, string path, string token)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _bHttp.SendAsync(request);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    /// <summary>Waits on B (the replica that stays) for the instance's status.</summary>
    private async Task WaitAsync(string id, string token, string status, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(90));
        string? last = null;
        while (true)
        {
            last = (await SendOnBAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token))["data"]!["status"]!.GetValue<string>();
            if (last == status)
            {
                return;
            }

            Assert.False(cts.IsCancellationRequested, $"instance {id} is {last}, not {status}");
            Assert.False(last is "error" or "expired" || (last == "stopped" && status != "stopped"), $"instance {id} ended {last} while waiting for {status}");
            await Task.Delay(200);
        }
    }
}
