using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
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
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string StorageVariable = "LABMANAGER_TEST_AZURITE";
    private readonly string _taskHub = "crash" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<Process> _processes = [];
    private TestDatabase _db = null!;
    private Process _server = null!;
    private string _emulatorUrl = null!;
    private HttpClient _api = null!;
    private string _serverLog = null!;

    private static string Storage => Environment.GetEnvironmentVariable(StorageVariable)
        ?? throw new InvalidOperationException($"{StorageVariable} is not set: run the tests with ./scripts/test.sh, which starts Azurite");

    public async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync();
        var emulatorPort = FreePort();
        _emulatorUrl = $"http://127.0.0.1:{emulatorPort}";
        Start("LabManager.VultrEmulator", [
            "--urls", _emulatorUrl, "--Logging:LogLevel:Default=Warning",
            "--Emulator:PendingSeconds=2", "--Emulator:BootSeconds=2", "--Emulator:InstallSeconds=2", "--Emulator:CloudInitSeconds=1",
        ], Path.GetTempFileName());
        await WaitUntilAsync(async () => (await TryGetAsync(_emulatorUrl + "/")) == HttpStatusCode.OK, TimeSpan.FromSeconds(30), () => "the emulator did not start");
        var port = FreePort();
        _api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        _serverLog = Path.GetTempFileName();
        await StartServerAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var p in _processes.Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }

        _api.Dispose();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task KillNine_MidLifecycle_EveryLabEndsRightWithOneVmEachAndNoneLeft()
    {
        var users = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToList();
        var tokens = users.Select(u => Token(u)).ToList();

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
        await SendAsync(HttpMethod.Post, $"/api/labs/instances/{c}/stop", tokens[2]);
        await WaitForStatusAsync(c, tokens[2], LabInstanceStatus.Stopping, TimeSpan.FromSeconds(30));

        _server.Kill(entireProcessTree: true);
        await _server.WaitForExitAsync();
        output.WriteLine($"killed while A {await StatusInDbAsync(a)}, B {await StatusInDbAsync(b)}, C {await StatusInDbAsync(c)}");

        // While the Server is down, a stop for D goes straight to the task hub.
        var service = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
        {
            TaskHubName = _taskHub,
            StorageAccountClientProvider = new StorageAccountClientProvider(Storage),
        });
        await new TaskHubClient(service).RaiseEventAsync(new OrchestrationInstance { InstanceId = d }, LabEvents.Stop, new StopRequest("user"));

        var restarted = Stopwatch.StartNew();
        await StartServerAsync();
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

        var inspection = await InspectAsync();
        foreach (var id in new[] { a, b, c, d })
        {
            var label = LabInstance.VmLabel(Guid.Parse(id));
            Assert.Equal(1, inspection.Creates.GetValueOrDefault(label));
            Assert.Equal(1, inspection.Deletes.GetValueOrDefault(label));
        }

        Assert.Empty(inspection.Vms);
        output.WriteLine($"labs 4, kills 1, VMs created {inspection.Creates.Values.Sum()}, VMs left {inspection.Vms.Count}");
    }

    private async Task StartServerAsync()
    {
        _server = Start("LabManager.Server", [
            "--urls", _api.BaseAddress!.ToString(),
            "--Durable:Backend=AzureStorage", $"--Durable:TaskHub={_taskHub}", $"--Durable:StorageConnectionString={Storage}",
            $"--ConnectionStrings:Postgres={_db.ConnectionString}",
            $"--Auth:SigningKey={SigningKey}", $"--Catalog:File={RepoPaths.Catalog}",
            $"--Vultr:BaseUrl={_emulatorUrl}/v2", "--Vultr:ApiKey=local-emulator-key", "--Vultr:RetryDelay=00:00:00.2",
            "--LabSessions:Timings:VmPollInitial=00:00:00.5", "--LabSessions:Timings:VmPollMax=00:00:01", "--LabSessions:Timings:LabProbeInterval=00:00:00.5",
            "--LabSessions:Timings:RetryInterval=00:00:00.5", "--Logging:LogLevel:Default=Warning",
        ], _serverLog);
        await WaitUntilAsync(async () => (await TryGetAsync(new Uri(_api.BaseAddress!, "/health").ToString())) == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), () => "the Server did not become healthy\n" + Tail());
    }

    private Process Start(string project, string[] args, string log)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(RepoPaths.Root, "src", project, "bin", configuration, "net10.0", project + ".dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)! };
        info.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        var writer = TextWriter.Synchronized(new StreamWriter(log, append: true) { AutoFlush = true });
        process.OutputDataReceived += (_, e) => writer.WriteLine(e.Data);
        process.ErrorDataReceived += (_, e) => writer.WriteLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    private string Token(Guid user) => new Api.Auth.TokenService(
        Microsoft.Extensions.Options.Options.Create(new Api.Auth.AuthOptions { SigningKey = SigningKey }), TimeProvider.System)
        .MintDevToken(user, null, false, TimeSpan.FromHours(1));

    private async Task<string> StartLabAsync(string lab, string token)
    {
        var (status, body) = await SendAsync(HttpMethod.Post, $"/api/labs/{lab}/start", token, """{"timeoutOverride": 1800000}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return body["data"]!["id"]!.GetValue<string>();
    }

    private async Task<(HttpStatusCode, JsonObject)> SendAsync(HttpMethod method, string path, string token, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _api.SendAsync(request);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    private async Task<JsonObject> WaitForStatusAsync(string id, string token, LabInstanceStatus status, TimeSpan timeout)
    {
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = (await SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Item2["data"]!.AsObject();
            return last["status"]!.GetValue<string>() == status.ToWire();
        }, timeout, () => $"instance {id} did not reach {status}: {last?.ToJsonString()}\n{Tail()}");
        return last!;
    }

    private Task<string> StatusInDbAsync(string id) => _db.ScalarAsync<string>($"SELECT status FROM lab_instances WHERE id = '{Guid.Parse(id)}'");

    private async Task<Inspection> InspectAsync()
    {
        using var http = new HttpClient();
        return (await http.GetFromJsonAsync<Inspection>(_emulatorUrl + "/admin/inspect", new System.Text.Json.JsonSerializerOptions
        {
            PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        }))!;
    }

    private string Tail() => string.Join('\n', File.ReadLines(_serverLog).TakeLast(20));

    private static async Task<HttpStatusCode?> TryGetAsync(string url)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            using var response = await http.GetAsync(url);
            return response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> failure)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail(failure());
            }

            await Task.Delay(100);
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
