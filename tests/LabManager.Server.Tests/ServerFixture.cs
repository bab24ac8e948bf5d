using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Api.Auth;
using LabManager.Core.Instances;
using LabManager.Testing;
using LabManager.VultrEmulator;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Server.Tests;

/// <summary>
/// A running Server on 127.0.0.1 with a fresh PostgreSQL database, the embedded emulator (short delays) and short
/// workflow timings. Derived fixtures change settings.
/// </summary>
public class ServerFixture : IAsyncLifetime
{
    public const string DvwaLab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a01";
    public const string JuiceShopLab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a02";
    public const string NetworkLab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a03";
    public const string CryptoLab = "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a04";
    public const string SigningKey = "test-signing-key-0123456789abcdef0123456789";
    public const string PhoneHomeKey = "test-phone-home-key-0123456789";

    /// <summary>The training platform's own frontend, on another origin (allowed by CORS).</summary>
    public const string FrontendOrigin = "https://academy.example.com";

    private WebApplication? _app;

    public TestDatabase Db { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public VultrEmulatorApp Emulator => _app!.Services.GetRequiredService<VultrEmulatorApp>();
    public TokenService Tokens => _app!.Services.GetRequiredService<TokenService>();
    public IServiceProvider Services => _app!.Services;

    /// <summary>
    /// A client as a browser on <paramref name="source"/> (distinct loopback addresses stand for distinct hosts): every host name, the labs'
    /// <c>*.lab.localhost</c> too, resolves to this server's loopback address, as browsers resolve <c>*.localhost</c>; IP addresses are
    /// reached as they are. Cookies are kept per host, like a browser's.
    /// </summary>
    public HttpClient Visitor(string source = "127.0.0.1", bool followRedirects = true, CookieContainer? cookies = null) =>
        new(VisitorHandler(source, followRedirects, cookies)) { Timeout = TimeSpan.FromSeconds(15) };

    public SocketsHttpHandler VisitorHandler(string source = "127.0.0.1", bool followRedirects = true, CookieContainer? cookies = null)
    {
        var handler = SourceAddress.Handler(source, IPAddress.Parse(Http.BaseAddress!.Host));
        handler.AllowAutoRedirect = followRedirects;
        handler.UseCookies = cookies is not null || followRedirects;
        handler.CookieContainer = cookies ?? new CookieContainer();
        return handler;
    }

    /// <summary>Starts a lab as <paramref name="token"/>'s learner from <paramref name="source"/> (the address the firewall opens to them); answers the instance id.</summary>
    public async Task<string> StartFromAsync(string labId, string token, string source)
    {
        using var visitor = Visitor(source);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Http.BaseAddress!, $"/api/labs/{labId}/start")) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await visitor.SendAsync(request);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!["id"]!.GetValue<string>();
    }

    /// <summary>Asks for access to a running instance as <paramref name="token"/>'s user, from <paramref name="source"/>: the link (with its ticket) to open.</summary>
    public async Task<string> AccessLinkAsync(string instanceId, string token, string source = "127.0.0.1")
    {
        using var visitor = Visitor(source);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Http.BaseAddress!, $"/api/labs/instances/{instanceId}/access"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await visitor.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());
        return body["data"]!["url"]!.GetValue<string>();
    }

    /// <summary>Settings on top of the defaults, as <c>Key=value</c>.</summary>
    protected virtual IEnumerable<string> Settings =>
        ["Api:MaxStartsPerWindow=1000", "Api:MaxContainersPerUser=3", "Api:MaxRebuildsPerWindow=2", "Api:MaxExtendsPerWindow=3", "Api:MaxReaddressesPerWindow=2"];

    public virtual async Task InitializeAsync()
    {
        Db = await TestDatabase.CreateAsync();
        // A port of its own, so the labs' phone-home (as run.sh configures it) can name this server; another test process may take
        // it between asking the OS and binding, so try again.
        for (var attempt = 1; _app is null; attempt++)
        {
            try
            {
                await StartAsync(ProcessHost.FreePort());
            }
            catch (IOException ex) when (attempt < 3 && ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
            }
        }
    }

    private async Task StartAsync(int port)
    {
        string[] defaults =
        [
            $"ConnectionStrings:Postgres={Db.ConnectionString}",
            $"Auth:SigningKey={SigningKey}",
            "Auth:DevTokens=true",
            $"Api:AllowedOrigins:0={FrontendOrigin}",
            $"Catalog:File={RepoPaths.Catalog}",
            "Logging:LogLevel:Default=Warning",
            "Emulator:PendingSeconds=0.3", "Emulator:BootSeconds=0.3", "Emulator:InstallSeconds=0.3", "Emulator:CloudInitSeconds=0.3", "Emulator:RebootSeconds=0.3",
            "Emulator:RebootOkSeconds=0.5",
            "LabSessions:VmWatchInterval=00:00:00.2", "LabSessions:Timings:LabProbeInterval=00:00:00.2",
            "LabSessions:Timings:RetryInterval=00:00:00.2", "LabSessions:Timings:ProvisioningDeadline=00:00:30", "LabSessions:Timings:LabReadyDeadline=00:00:30",
            "Vultr:RetryDelay=00:00:00.2", "LabSessions:Timings:RebootSettle=00:00:05",
            $"LabSessions:PhoneHomeUrl=http://127.0.0.1:{port}/api/labs/instances/{{instanceId}}/ready?key={{key}}",
            $"LabSessions:PhoneHomeKey={PhoneHomeKey}", "Access:GatewayCidrs:0=127.0.0.1/32", $"Access:LabPort={port}", "Access:ActivityFlushInterval=00:00:00.5",
        ];
        var args = new List<string> { "--urls", $"http://127.0.0.1:{port}" };
        args.AddRange(defaults.Concat(Settings).Select(s => "--" + s));
        var (app, address) = await ServerApp.StartAsync([.. args]);
        _app = app;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public virtual async Task DisposeAsync()
    {
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await Db.DisposeAsync();
    }

    public string Token(Guid userId, bool admin = false) => Tokens.MintDevToken(userId, "learner", admin, TimeSpan.FromHours(1));

    /// <summary>Sends a request; the body, when given, is sent as JSON text as-is.</summary>
    public async Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> SendAsync(
        HttpMethod method, string path, string? token = null, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject(), response);
    }

    public Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> StartAsync(string labId, string token, string? body = null) =>
        SendAsync(HttpMethod.Post, $"/api/labs/{labId}/start", token, body);

    /// <summary>Polls <c>GET /api/labs/instances/{id}</c> until the status is reached; fails on another end state.</summary>
    public async Task<JsonObject> WaitForStatusAsync(string instanceId, string token, LabInstanceStatus status, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var (_, body, _) = await SendAsync(HttpMethod.Get, $"/api/labs/instances/{instanceId}", token);
            var data = body["data"]!.AsObject();
            var current = LabInstanceTransitions.ParseWire(data["status"]!.GetValue<string>());
            if (current == status)
            {
                return data;
            }

            if (current.IsTerminal() || cts.IsCancellationRequested)
            {
                Assert.Fail($"Instance is {current} ({data["errorMessage"]}) while waiting for {status}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Starts the lab as the token's user and waits until it runs; returns the instance id.</summary>
    public async Task<string> StartRunningAsync(string labId, string token)
    {
        var (_, started, _) = await StartAsync(labId, token);
        var id = started["data"]!["id"]!.GetValue<string>();
        await WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        return id;
    }

    /// <summary>Stops the instance as its learner and waits until it has ended stopped.</summary>
    public async Task StopAndWaitAsync(string instanceId, string token)
    {
        await SendAsync(HttpMethod.Post, $"/api/labs/instances/{instanceId}/stop", token);
        await WaitForStatusAsync(instanceId, token, LabInstanceStatus.Stopped);
    }

    /// <summary>Waits until the emulator holds no VM labelled for these instances.</summary>
    public async Task AssertNoVmLeftAsync(IEnumerable<string> instanceIds, TimeSpan? timeout = null)
    {
        var ids = instanceIds.Select(Guid.Parse).ToList();
        var labels = ids.Select(id => LabInstance.VmLabel(id)).ToHashSet();
        var active = string.Join(", ", LabInstanceTransitions.Active.Select(s => $"'{s.ToWire()}'"));
        var idList = string.Join(", ", ids.Select(id => $"'{id}'"));
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            // Ended first: a session stopped before it made its VM still makes it, and then destroys it.
            var running = ids.Count == 0 ? 0 : await Db.ScalarAsync<long>($"SELECT count(*) FROM lab_instances WHERE id IN ({idList}) AND status IN ({active})");
            var left = (await Emulator.InspectAsync()).Vms.Where(v => labels.Contains(v.Label)).ToList();
            if (running == 0 && left.Count == 0)
            {
                return;
            }

            if (cts.IsCancellationRequested)
            {
                Assert.Fail($"{running} instance(s) not ended, {left.Count} VM(s) left: {string.Join(", ", left.Select(v => v.Label))}");
            }

            await Task.Delay(100);
        }
    }

    public Task<long> InstanceCountAsync() => Db.ScalarAsync<long>("SELECT count(*) FROM lab_instances");
}
