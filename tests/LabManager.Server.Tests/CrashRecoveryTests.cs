using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using DurableTask.AzureStorage;
using DurableTask.Core;
using LabManager.Core.Instances;
using LabManager.Testing;
using LabManager.VultrEmulator;
using LabManager.Workflows.Sessions;
using Xunit.Abstractions;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>
/// The Server in durable mode (Azure Storage backend on Azurite) is killed with SIGKILL while labs are provisioning,
/// running and being destroyed, and while it is down a stop is raised; after a restart every lab ends as it should,
/// with exactly one VM per instance and none left. The Server and the emulator run as separate processes.
/// </summary>
[Collection(ServerProcessTests.Collection)]
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string StorageVariable = "LABMANAGER_TEST_AZURITE";
    private ServerProcesses _lab = null!;

    private static string Storage => Environment.GetEnvironmentVariable(StorageVariable)
        ?? throw new InvalidOperationException($"{StorageVariable} is not set: run the tests with ./scripts/test.sh, which starts Azurite");

    public async Task InitializeAsync() => _lab = await ServerProcesses.StartAsync(
        Storage, ["Emulator:PendingSeconds=2", "Emulator:BootSeconds=2", "Emulator:InstallSeconds=2", "Emulator:CloudInitSeconds=1"], ServerProcesses.FastTimings);

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    [Fact]
    public async Task KillNine_MidLifecycle_EveryLabEndsRightWithOneVmEachAndNoneLeft()
    {
        var users = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToList();
        var tokens = users.Select(u => _lab.Token(u)).ToList();

        // Running: B. Being destroyed: C. Stopped while the Server is down: D. Provisioning: A.
        var b = await StartLabAsync(JuiceShopLab, tokens[1]);
        var c = await StartLabAsync(NetworkLab, tokens[2]);
        var d = await StartLabAsync(CryptoLab, tokens[3]);
        foreach (var (id, token) in new[] { (b, tokens[1]), (c, tokens[2]), (d, tokens[3]) })
        {
            await WaitForStatusAsync(id, token, LabInstanceStatus.Running, TimeSpan.FromSeconds(90));
        }

        var a = await StartLabAsync(DvwaLab, tokens[0]);
        await WaitForStatusAsync(a, tokens[0], LabInstanceStatus.Provisioning, TimeSpan.FromSeconds(60));
        // Every Vultr call now takes 5 s, so C is still being destroyed when the Server dies.
        await _lab.Emulator.SetFaultsAsync(new FaultSettings { LatencyMs = 5000 });
        await SendAsync(HttpMethod.Post, $"/api/labs/instances/{c}/stop", tokens[2]);
        await WaitForStatusAsync(c, tokens[2], LabInstanceStatus.Stopping, TimeSpan.FromSeconds(30));

        await _lab.KillServerAsync();
        await _lab.Emulator.SetFaultsAsync(new FaultSettings());
        output.WriteLine($"killed while A {await StatusInDbAsync(a)}, B {await StatusInDbAsync(b)}, C {await StatusInDbAsync(c)}");

        // While the Server is down, a stop for D goes straight to the task hub.
        var service = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
        {
            TaskHubName = _lab.TaskHub,
            StorageAccountClientProvider = new StorageAccountClientProvider(Storage),
        });
        await new TaskHubClient(service).RaiseEventAsync(new OrchestrationInstance { InstanceId = d }, LabEvents.Stop, new StopRequest("user"));

        var restarted = Stopwatch.StartNew();
        await _lab.StartServerAsync();
        var healthy = restarted.Elapsed;
        await WaitForStatusAsync(d, tokens[3], LabInstanceStatus.Stopped, TimeSpan.FromSeconds(90));
        var resumed = restarted.Elapsed;
        await WaitForStatusAsync(a, tokens[0], LabInstanceStatus.Running, TimeSpan.FromSeconds(90));
        await WaitForStatusAsync(c, tokens[2], LabInstanceStatus.Stopped, TimeSpan.FromSeconds(90));
        var stillRunning = await WaitForStatusAsync(b, tokens[1], LabInstanceStatus.Running, TimeSpan.FromSeconds(30));
        Assert.Equal(0, stillRunning["restartCount"]!.GetValue<int>());
        output.WriteLine($"restart → healthy {healthy.TotalSeconds:F1} s; restart → stop honoured (workflows resumed) {resumed.TotalSeconds:F1} s");

        foreach (var (id, token) in new[] { (a, tokens[0]), (b, tokens[1]) })
        {
            await SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
            await WaitForStatusAsync(id, token, LabInstanceStatus.Stopped, TimeSpan.FromSeconds(60));
        }

        var inspection = await _lab.Emulator.InspectAsync();
        foreach (var id in new[] { a, b, c, d })
        {
            var label = LabInstance.VmLabel(Guid.Parse(id));
            Assert.Equal(1, inspection.Creates.GetValueOrDefault(label));
            Assert.Equal(1, inspection.Deletes.GetValueOrDefault(label));
        }

        Assert.Empty(inspection.Vms);
        output.WriteLine($"labs 4, kills 1, VMs created {inspection.Creates.Values.Sum()}, VMs left {inspection.Vms.Count}");
    }

    private async Task<string> StartLabAsync(string lab, string token)
    {
        var (status, body) = await _lab.SendAsync(HttpMethod.Post, $"/api/labs/{lab}/start", token, """{"timeoutOverride": 1800000}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return body["data"]!["id"]!.GetValue<string>();
    }

    private Task<(HttpStatusCode, JsonObject)> SendAsync(HttpMethod method, string path, string token) => _lab.SendAsync(method, path, token);

    private async Task<JsonObject> WaitForStatusAsync(string id, string token, LabInstanceStatus status, TimeSpan timeout)
    {
        JsonObject? last = null;
        await ProcessHost.WaitUntilAsync(async () =>
        {
            last = (await SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Item2["data"]!.AsObject();
            return last["status"]!.GetValue<string>() == status.ToWire();
        }, timeout, () => $"instance {id} did not reach {status}: {last?.ToJsonString()}\n{_lab.Tail()}");
        return last!;
    }

    private Task<string> StatusInDbAsync(string id) => _lab.Db.ScalarAsync<string>($"SELECT status FROM lab_instances WHERE id = '{Guid.Parse(id)}'");
}
