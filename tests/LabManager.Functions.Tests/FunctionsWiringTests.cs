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

    private async Task<(int Status, JsonObject Body)> InvokeAsync(string method, string path, string? token, Func<HttpContext, Task> trigger)
    {
        await using var scope = _host.Services.CreateAsyncScope();
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        http.Request.Method = method;
        http.Request.Path = path;
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
