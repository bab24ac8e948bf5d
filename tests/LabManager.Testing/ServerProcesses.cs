using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Api.Auth;
using LabManager.VultrEmulator;
using Microsoft.Extensions.Options;

namespace LabManager.Testing;

/// <summary>
/// The Vultr emulator and the Server in durable mode (Azure Storage backend) as separate processes on loopback ports, with
/// a fresh PostgreSQL database and task hub. The Server can be killed (SIGKILL) and started again on the same state.
/// </summary>
public sealed class ServerProcesses : IAsyncDisposable
{
    public const string SigningKey = "process-signing-key-0123456789abcdef0123456789";

    /// <summary>Short workflow polling and retry intervals, for tests.</summary>
    public static readonly IReadOnlyList<string> FastTimings =
    [
        "LabSessions:VmWatchInterval=00:00:00.5", "LabSessions:Timings:LabProbeInterval=00:00:00.5",
        "LabSessions:Timings:RetryInterval=00:00:00.5", "Vultr:RetryDelay=00:00:00.2",
    ];

    private readonly ProcessHost _host = new();
    private readonly string _serverLog = Path.GetTempFileName();
    private readonly IReadOnlyList<string> _serverSettings;
    private readonly TokenService _tokens = new(Options.Create(new AuthOptions { SigningKey = SigningKey }), TimeProvider.System);
    private Process? _server;
    private readonly List<(Process Process, HttpClient Client)> _replicas = [];

    private ServerProcesses(TestDatabase db, string storage, string emulatorUrl, IReadOnlyList<string> serverSettings)
    {
        Db = db;
        Storage = storage;
        Emulator = new EmulatorAdminClient(new Uri(emulatorUrl + "/"));
        EmulatorUrl = emulatorUrl;
        _serverSettings = serverSettings;
        Api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ProcessHost.FreePort()}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public TestDatabase Db { get; }
    public string Storage { get; }
    public string TaskHub { get; } = "lm" + Guid.NewGuid().ToString("N")[..10];
    public string EmulatorUrl { get; }
    public EmulatorAdminClient Emulator { get; }
    public HttpClient Api { get; }

    /// <summary>
    /// Starts both. <paramref name="emulatorSettings"/> and <paramref name="serverSettings"/> are <c>Key=value</c> settings added
    /// to the defaults (durable mode on <paramref name="storage"/>, Warning logs); later ones win.
    /// </summary>
    public static async Task<ServerProcesses> StartAsync(
        string storage, IEnumerable<string> emulatorSettings, IEnumerable<string> serverSettings, string? postgresServer = null)
    {
        var db = await TestDatabase.CreateAsync(postgresServer);
        var emulatorUrl = $"http://127.0.0.1:{ProcessHost.FreePort()}";
        var processes = new ServerProcesses(db, storage, emulatorUrl, [.. serverSettings]);
        processes._host.Start("LabManager.VultrEmulator",
            ["--urls", emulatorUrl, "--Logging:LogLevel:Default=Warning", .. emulatorSettings.Select(s => "--" + s)], Path.GetTempFileName());
        try
        {
            await ProcessHost.WaitForOkAsync(emulatorUrl + "/", TimeSpan.FromSeconds(30), () => "the emulator did not start");
            await processes.StartServerAsync();
            return processes;
        }
        catch
        {
            await processes.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the Server and waits until <c>/health</c> answers 200.</summary>
    public async Task StartServerAsync() => _server = await StartAtAsync(Api.BaseAddress!, _serverLog);

    /// <summary>
    /// Starts one more Server process on the same database, task hub, emulator and settings (a replica behind a load balancer); answers
    /// a client of it. It stops with the rest.
    /// </summary>
    public async Task<HttpClient> StartReplicaAsync()
    {
        var replica = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ProcessHost.FreePort()}"), Timeout = TimeSpan.FromSeconds(30) };
        _replicas.Add((await StartAtAsync(replica.BaseAddress, Path.GetTempFileName()), replica));
        return replica;
    }

    private async Task<Process> StartAtAsync(Uri address, string log)
    {
        string[] defaults =
        [
            "--urls", address.ToString(),
            "--Durable:Backend=AzureStorage", $"--Durable:TaskHub={TaskHub}", $"--Durable:StorageConnectionString={Storage}",
            // Replicas are told apart by their port, which a restarted Server keeps.
            $"--Durable:WorkerId=server-{address.Port}",
            $"--ConnectionStrings:Postgres={Db.ConnectionString}",
            $"--Auth:SigningKey={SigningKey}", $"--Catalog:File={RepoPaths.Catalog}",
            $"--Vultr:BaseUrl={EmulatorUrl}/v2", "--Vultr:ApiKey=local-emulator-key", "--Logging:LogLevel:Default=Warning",
            $"--LabSessions:PhoneHomeUrl={address.ToString().TrimEnd('/')}/api/labs/instances/{{instanceId}}/ready?key={{key}}",
            "--LabSessions:PhoneHomeKey=process-phone-home-key", "--Access:GatewayCidrs:0=127.0.0.1/32", $"--Access:LabPort={address.Port}",
        ];
        var server = _host.Start("LabManager.Server", [.. defaults, .. _serverSettings.Select(s => "--" + s)], log);
        await ProcessHost.WaitUntilAsync(
            async () => server.HasExited ? throw new InvalidOperationException("the Server exited:\n" + Tail()) : await ProcessHost.IsOkAsync(new Uri(address, "/health").ToString()),
            TimeSpan.FromSeconds(60), () => "the Server did not become healthy\n" + Tail());
        return server;
    }

    /// <summary>The most memory the running Server process has held so far, in bytes.</summary>
    public long ServerPeakWorkingSet
    {
        get
        {
            _server!.Refresh();
            return _server.PeakWorkingSet64;
        }
    }

    /// <summary>SIGKILL to the Server.</summary>
    public Task KillServerAsync() => ProcessHost.KillAsync(_server ?? throw new InvalidOperationException("The Server is not running"));

    public string Token(Guid user, bool admin = false) => _tokens.MintDevToken(user, null, admin, TimeSpan.FromHours(2));

    public Task<(HttpStatusCode Status, JsonObject Body)> SendAsync(HttpMethod method, string path, string token, string? body = null) =>
        SendAsync(Api, method, path, token, body);

    /// <summary>Sends to <paramref name="server"/>: the first Server's <see cref="Api"/> or a replica's client.</summary>
    public async Task<(HttpStatusCode Status, JsonObject Body)> SendAsync(HttpClient server, HttpMethod method, string path, string token, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await server.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>The last lines the Server wrote.</summary>
    public string Tail(int lines = 20) => string.Join('\n', File.ReadLines(_serverLog).TakeLast(lines));

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        Api.Dispose();
        foreach (var (_, client) in _replicas)
        {
            client.Dispose();
        }

        Emulator.Dispose();
        await Db.DisposeAsync();
    }
}
