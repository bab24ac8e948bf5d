using System.Reflection;
using System.Text.Json.Nodes;
using LabManager.Api.Auth;
using LabManager.Functions.Http;
using LabManager.Functions.Sessions;
using LabManager.Infrastructure.Postgres;
using LabManager.Testing;
using LabManager.VultrEmulator;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LabManager.Functions.Tests;

/// <summary>
/// The Functions app's services built the way the worker builds them (<see cref="FunctionsApp.Configure"/>), against a real
/// PostgreSQL database and the Vultr emulator: every function class resolves, the sweep runs on a worker that has served no HTTP
/// request, and HTTP triggers answer through the API's edge with a real <see cref="HttpContext"/>.
/// </summary>
public sealed class FunctionsWiringTests : IAsyncLifetime
{
    private const string SigningKey = "functions-test-signing-key-0123456789abcdef";
    private const string PhoneHomeKey = "functions-test-phone-home-key";
    private TestDatabase _db = null!;
    private VultrEmulatorApp _emulator = null!;
    private DurableTaskTestHost _durable = null!;
    private IHost _host = null!;

    public async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync();
        _emulator = await VultrEmulatorApp.StartAsync();
        _durable = await DurableTaskTestHost.StartAsync(_ => { }, new DurableTaskTestHostOptions { Port = ProcessHost.FreePort() });
        var builder = FunctionsApplication.CreateBuilder([]);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = _db.ConnectionString,
            ["Auth:SigningKey"] = SigningKey,
            ["Catalog:File"] = RepoPaths.Catalog,
            ["Vultr:BaseUrl"] = _emulator.ApiBase.ToString(),
            ["Vultr:ApiKey"] = _emulator.ApiKey,
            ["SWEEP_SCHEDULE"] = "0 */5 * * * *",
            ["LabSessions:PhoneHomeKey"] = PhoneHomeKey,
        });
        _host = FunctionsApp.Configure(builder).Build();
        // What the worker does at start: migrations and the catalog (the rest of its start needs the Functions host).
        await ActivatorUtilities.CreateInstance<DatabaseInitializer>(_host.Services).StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _durable.DisposeAsync();
        await _emulator.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public void TheFunctionsApp_OpensLabsToTheLearnersAddress_ForItHasNoGateway()
    {
        // No Access settings given, as in a Functions deployment: direct mode, which needs no gateway addresses.
        var access = _host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Core.Access.AccessOptions>>().Value;
        Assert.Equal(Core.Access.AccessMode.Direct, access.Mode);
        // Requests reach the worker from the Functions host on loopback: the front end's X-Forwarded-For names the learner.
        Assert.Equal(["127.0.0.0/8", "::1/128"], access.TrustedProxies);
    }

    [Fact]
    public void EveryFunctionClass_Resolves()
    {
        var classes = typeof(FunctionsApp).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && t.GetMethods().Any(m => m.GetCustomAttribute<FunctionAttribute>() is not null))
            .ToList();
        Assert.Contains(typeof(ReconciliationFunctions), classes);
        using var scope = _host.Services.CreateScope();
        foreach (var type in classes)
        {
            Assert.NotNull(ActivatorUtilities.CreateInstance(scope.ServiceProvider, type));
        }
    }

    [Fact]
    public async Task Sweep_RunsOnAWorkerThatServedNoHttpRequest()
    {
        using var scope = _host.Services.CreateScope();
        var sweep = ActivatorUtilities.CreateInstance<ReconciliationFunctions>(scope.ServiceProvider);

        await sweep.Sweep(new TimerInfo(), _durable.Client, CancellationToken.None);

        Assert.Same(_durable.Client, _host.Services.GetRequiredService<DurableClientSlot>().Client);
        Assert.Equal(1L, await _db.ScalarAsync<long>("SELECT count(*) FROM reconciliation_runs"));
    }

    [Fact]
    public async Task TheVmWatchTimer_CallsNothingWithNoLabBooting_AndListsOnceForABootingOne()
    {
        using var scope = _host.Services.CreateScope();
        var functions = ActivatorUtilities.CreateInstance<ReconciliationFunctions>(scope.ServiceProvider);
        int Lists() => _emulator.InspectAsync().GetAwaiter().GetResult().Requests.GetValueOrDefault("list");
        var before = Lists();

        await functions.WatchVms(new TimerInfo(), _durable.Client, CancellationToken.None);
        Assert.Equal(before, Lists());

        // A VM still pending: the turn lists our VMs once, and tells no session.
        var store = _host.Services.GetRequiredService<Core.Ports.IInstanceStore>();
        var lab = (await _host.Services.GetRequiredService<Core.Ports.ILabCatalog>().GetAsync(Guid.Parse("6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a01")))!;
        var started = await store.TryStartAsync(new Core.Ports.StartRequest(Guid.NewGuid(), new Core.Ports.UserRef(Guid.NewGuid(), null, null, false), lab,
            DateTimeOffset.UtcNow, new Core.Ports.QuotaPolicy(5, 100, 100, TimeSpan.FromMinutes(10))));
        var instance = Assert.IsType<Core.Ports.StartOutcome.Created>(started).Instance;
        var cloud = _host.Services.GetRequiredService<Core.Ports.ICloudProvider>();
        var vm = await cloud.CreateVmAsync(new Core.Ports.VmSpec(Core.Instances.LabInstance.VmLabel(instance.Id), "ewr", "vc2-1c-1gb", "#!/bin/bash\n", ["labmanager"], Fresh: true));
        await store.UpdateAsync(instance.MoveTo(Core.Instances.LabInstanceStatus.Provisioning, DateTimeOffset.UtcNow) with { CloudInstanceId = vm.Id });
        await functions.WatchVms(new TimerInfo(), _durable.Client, CancellationToken.None);

        Assert.Equal(before + 1, Lists());
        Assert.True(await _db.ScalarAsync<long>("SELECT slot FROM vm_watch_turns") > 0);
    }

    [Fact]
    public async Task HttpTriggers_AnswerThroughTheApiEdge()
    {
        var (labs, labsBody) = await InvokeAsync("GET", "/api/labs", null, http => ApiFunctions.ListLabs(http.Request, _durable.Client));
        Assert.Equal(200, labs);
        Assert.Equal(4, labsBody["data"]!.AsArray().Count);

        // Without Azure SignalR Service configured, the deployment says it has no live status.
        var (_, features) = await InvokeAsync("GET", "/api/features", null, http => ApiFunctions.Features(http.Request, _durable.Client));
        Assert.Null(features["data"]!["realtimeUrl"]);

        var (anonymous, refusal) = await InvokeAsync("GET", "/api/labs/instances/list", null, http => ApiFunctions.ListInstances(http.Request, _durable.Client));
        Assert.Equal(401, anonymous);
        Assert.Equal("A bearer token is required", refusal["message"]!.GetValue<string>());

        var token = _host.Services.GetRequiredService<TokenService>().MintDevToken(Guid.NewGuid(), null, admin: false, TimeSpan.FromMinutes(5));
        var (mine, mineBody) = await InvokeAsync("GET", "/api/labs/instances/list", token, http => ApiFunctions.ListInstances(http.Request, _durable.Client));
        Assert.Equal(200, mine);
        Assert.Empty(mineBody["data"]!.AsArray());
    }

    [Fact]
    public async Task AHeartbeat_IsStoredThroughItsTrigger_AndTheAgentWatchTimer_ReportsTheAgentSilentAndReconciles()
    {
        var id = Guid.NewGuid();
        await _db.ScalarAsync<int>($"""
            INSERT INTO users (id, username) VALUES ('{id}', 'learner');
            INSERT INTO lab_instances (id, user_id, lab_id, status, created_at, started_at, updated_at)
            VALUES ('{id}', '{id}', '6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a04', 'running', now(), now(), now() - interval '1 hour');
            SELECT 1
            """);
        var path = $"/api/labs/instances/{id}/heartbeat?key={Core.Instances.PhoneHome.Key(PhoneHomeKey, id)}&vm=1";
        const string Body = """{"boot":1,"containers":[{"name":"/oracle","state":"running","exitCode":0,"restarts":0,"health":null}],"stats":[],"logs":[],"restarted":[]}""";
        // The Functions host's routing fills in the route's values.
        Task Trigger(HttpContext http)
        {
            http.Request.RouteValues["id"] = id.ToString();
            return ApiFunctions.LabHeartbeat(http.Request, _durable.Client);
        }

        var (stored, _) = await InvokeAsync("POST", path, null, Trigger, Body);
        Assert.Equal(202, stored);
        var (wrongKey, _) = await InvokeAsync("POST", path.Replace("key=", "key=0", StringComparison.Ordinal), null, Trigger, Body);
        Assert.Equal(404, wrongKey);

        // Its agent then falls silent. Its VM is up, but it has no session here: reconciliation, run at once, finds the workflow lost.
        await ForeignVms.CreateAsync(_emulator.ApiBase, _emulator.ApiKey, Core.Instances.LabInstance.VmLabel(id), "labmanager");
        await _db.ScalarAsync<int>($"UPDATE instance_heartbeats SET received_at = now() - interval '10 minutes' WHERE instance_id = '{id}'; SELECT 1");
        using var scope = _host.Services.CreateScope();
        var functions = ActivatorUtilities.CreateInstance<ReconciliationFunctions>(scope.ServiceProvider);
        await functions.WatchAgents(new TimerInfo(), _durable.Client, CancellationToken.None);
        Assert.True(await _db.ScalarAsync<bool>($"SELECT silent_at IS NOT NULL FROM instance_heartbeats WHERE instance_id = '{id}'"));
        Assert.Equal(1L, await _db.ScalarAsync<long>("SELECT count(*) FROM reconciliation_runs"));
        Assert.Equal("error", await _db.ScalarAsync<string>($"SELECT status FROM lab_instances WHERE id = '{id}'"));
    }

    [Fact]
    public async Task Health_StatusForThePlatform_DetailsForOperatorsOnly()
    {
        await using var scope = _host.Services.CreateAsyncScope();
        var functions = ActivatorUtilities.CreateInstance<HealthFunctions>(scope.ServiceProvider);

        var (status, body) = await InvokeAsync("GET", "/api/health", null, http => functions.Health(http.Request, _durable.Client));
        Assert.Equal((200, "healthy"), (status, body["message"]!.GetValue<string>()));
        Assert.False(body.ContainsKey("data"));

        var (anonymous, _) = await InvokeAsync("GET", "/api/health/details", null, http => functions.HealthDetails(http.Request, _durable.Client));
        Assert.Equal(401, anonymous);
        var token = _host.Services.GetRequiredService<TokenService>().MintDevToken(Guid.NewGuid(), null, admin: true, TimeSpan.FromMinutes(5));
        var (details, checks) = await InvokeAsync("GET", "/api/health/details", token, http => functions.HealthDetails(http.Request, _durable.Client));
        Assert.Equal(200, details);
        Assert.Equal(new JsonObject { ["postgres"] = "ok", ["durable"] = "ok", ["cloud"] = "ok" }.ToJsonString(), checks["data"]!.ToJsonString());
    }

    private async Task<(int Status, JsonObject Body)> InvokeAsync(string method, string path, string? token, Func<HttpContext, Task> trigger, string? json = null)
    {
        await using var scope = _host.Services.CreateAsyncScope();
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        http.Request.Method = method;
        var uri = new Uri("http://functions" + path);
        http.Request.Path = uri.AbsolutePath;
        http.Request.QueryString = new QueryString(uri.Query);
        if (json is not null)
        {
            http.Request.Body = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
            http.Request.ContentType = "application/json";
        }

        if (token is not null)
        {
            http.Request.Headers.Authorization = "Bearer " + token;
        }

        using var body = new MemoryStream();
        http.Response.Body = body;
        await trigger(http);
        return (http.Response.StatusCode, JsonNode.Parse(body.ToArray())!.AsObject());
    }
}
