using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Api.Auth;
using LabManager.Core.Instances;
using LabManager.Testing;
using LabManager.VultrEmulator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Server.Tests;

/// <summary>
/// Two Servers, A and B, on one PostgreSQL database, one Redis, one Azurite task hub and one emulator, as replicas behind a load
/// balancer: a session's activities run on either, so what reaches a client or a gateway must not depend on which.
/// </summary>
public sealed class ReplicaTests : IAsyncLifetime
{
    private const string SigningKey = "replica-signing-key-0123456789abcdef0123456789";
    private readonly List<WebApplication> _apps = [];
    private TestDatabase _db = null!;
    private VultrEmulatorApp _emulator = null!;
    private readonly List<HttpClient> _http = [];

    private HttpClient A => _http[0];
    private HttpClient B => _http[1];

    public async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync();
        _emulator = await VultrEmulatorApp.StartAsync(o => (o.PendingSeconds, o.BootSeconds, o.InstallSeconds, o.CloudInitSeconds) = (0.3, 0.3, 0.3, 0.3));
        var hub = "lm" + Guid.NewGuid().ToString("N")[..10];
        foreach (var name in new[] { "A", "B" })
        {
            var port = ProcessHost.FreePort();
            var (app, address) = await ServerApp.StartAsync(
            [
                "--urls", $"http://127.0.0.1:{port}",
                $"--ConnectionStrings:Postgres={_db.ConnectionString}", $"--ConnectionStrings:Redis={Required("LABMANAGER_TEST_REDIS")}",
                "--Durable:Backend=AzureStorage", $"--Durable:TaskHub={hub}", $"--Durable:StorageConnectionString={Required("LABMANAGER_TEST_AZURITE")}",
                $"--Durable:WorkerId=replica-{name}",
                $"--Auth:SigningKey={SigningKey}", $"--Catalog:File={RepoPaths.Catalog}", "--Logging:LogLevel:Default=Warning",
                $"--Vultr:BaseUrl={_emulator.ApiBase}", $"--Vultr:ApiKey={_emulator.ApiKey}", "--Vultr:RetryDelay=00:00:00.2",
                $"--LabSessions:PhoneHomeUrl=http://127.0.0.1:{port}/api/labs/instances/{{instanceId}}/ready?key={{key}}", "--LabSessions:PhoneHomeKey=replica-phone-home-key",
                "--LabSessions:VmWatchInterval=00:00:00.2", "--LabSessions:Timings:LabProbeInterval=00:00:00.2",
                "--LabSessions:Timings:RetryInterval=00:00:00.2",
                "--Access:GatewayCidrs:0=127.0.0.1/32", $"--Access:LabPort={port}", "--Api:MaxStartsPerWindow=1000", "--Api:MaxContainersPerUser=3",
            ]);
            _apps.Add(app);
            _http.Add(new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) });
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        await _emulator.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task LiveStatus_ReachesConnectionsOnTheOtherReplica_AndAGatewayCookieOfOneOpensTheLabOnTheOther()
    {
        var tokens = _apps[0].Services.GetRequiredService<TokenService>();
        var learner = Guid.NewGuid();
        var token = tokens.MintDevToken(learner, "learner", false, TimeSpan.FromHours(1));
        var adminToken = tokens.MintDevToken(Guid.NewGuid(), "operator", true, TimeSpan.FromHours(1));
        var (onB, learnerOnB) = await ConnectAsync(B, token);
        var (operatorOnA, operatorMessages) = await ConnectAsync(A, adminToken);
        var (feedOnB, feedMessages) = await ConnectAsync(B, tokens.MintDevToken(Guid.NewGuid(), "watcher", false, TimeSpan.FromHours(1)));
        await feedOnB.InvokeAsync("subscribe:lab", ServerFixture.CryptoLab);

        // Two labs started through A, one through B: every status reaches the learner on B, the operator on A and the lab's feed on B.
        var throughA = new[] { await StartAsync(A, ServerFixture.CryptoLab, token), await StartAsync(A, ServerFixture.DvwaLab, token) };
        var throughB = await StartAsync(B, ServerFixture.JuiceShopLab, token);
        string[] all = [.. throughA, throughB];
        foreach (var id in all)
        {
            await WaitForAsync(A, id, token, "running");
        }

        await WaitUntilAsync(() => all.All(id => Has(learnerOnB, id, "running") && Has(operatorMessages, id, "running")) && Has(feedMessages, throughA[0], "running"));

        // A ticket traded on A: its cookie opens the lab on B too (one key ring for every replica).
        var link = JsonNode.Parse(await (await SendAsync(A, HttpMethod.Post, $"/api/labs/instances/{throughA[1]}/access", token)).Content.ReadAsStringAsync())!["data"]!["url"]!.GetValue<string>();
        using var onA = new HttpClient(NoRedirects());
        var cookie = (await onA.GetAsync(link)).Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{throughA[1]}.lab.localhost:{B.BaseAddress!.Port}/");
        request.Headers.Add("Cookie", cookie);
        using var fromB = await new HttpClient(NoRedirects()).SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, fromB.StatusCode);
        Assert.Contains("Lab app", await fromB.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        foreach (var id in all)
        {
            await SendAsync(B, HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
        }

        foreach (var id in all)
        {
            await WaitForAsync(A, id, token, "stopped");
        }

        await WaitUntilAsync(() => all.All(id => Has(learnerOnB, id, "stopped")));
        await Task.WhenAll(onB.DisposeAsync().AsTask(), operatorOnA.DisposeAsync().AsTask(), feedOnB.DisposeAsync().AsTask());
    }

    [Fact]
    public async Task TheLearnersQuota_HoldsAcrossReplicas()
    {
        var token = _apps[0].Services.GetRequiredService<TokenService>().MintDevToken(Guid.NewGuid(), "learner", false, TimeSpan.FromHours(1));
        string[] labs = [ServerFixture.DvwaLab, ServerFixture.JuiceShopLab, ServerFixture.NetworkLab, ServerFixture.CryptoLab];

        // Four starts at once, two through each replica, against a quota of three active labs.
        var answers = await Task.WhenAll(labs.Select((lab, i) => SendAsync(_http[i % 2], HttpMethod.Post, $"/api/labs/{lab}/start", token, "{}")));

        Assert.Equal(3, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.Equal(1, answers.Count(a => a.StatusCode == HttpStatusCode.Conflict));
        foreach (var answer in answers.Where(a => a.StatusCode == HttpStatusCode.Created))
        {
            var id = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["data"]!["id"]!.GetValue<string>();
            await WaitForAsync(A, id, token, "running");
            await SendAsync(B, HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
            await WaitForAsync(A, id, token, "stopped");
        }
    }

    private static bool Has(ConcurrentQueue<JsonObject> messages, string id, string status) =>
        messages.Any(m => m["instanceId"]!.GetValue<string>() == id && m["status"]!.GetValue<string>() == status);

    private static async Task<(HubConnection, ConcurrentQueue<JsonObject>)> ConnectAsync(HttpClient server, string token)
    {
        var messages = new ConcurrentQueue<JsonObject>();
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.BaseAddress!, "/hubs/labs"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        connection.On<JsonObject>("lab:status", messages.Enqueue);
        await connection.StartAsync();
        return (connection, messages);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient server, HttpMethod method, string path, string token, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json");
        return await server.SendAsync(request);
    }

    private static async Task<string> StartAsync(HttpClient server, string labId, string token) =>
        JsonNode.Parse(await (await SendAsync(server, HttpMethod.Post, $"/api/labs/{labId}/start", token, "{}")).Content.ReadAsStringAsync())!["data"]!["id"]!.GetValue<string>();

    private static async Task WaitForAsync(HttpClient server, string id, string token, string status)
    {
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); ; await Task.Delay(100))
        {
            var data = JsonNode.Parse(await (await SendAsync(server, HttpMethod.Get, $"/api/labs/instances/{id}", token)).Content.ReadAsStringAsync())!["data"]!;
            if (data["status"]!.GetValue<string>() == status)
            {
                return;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"instance {id} still {data["status"]} ({data["step"]}: {data["message"]}) after 90 s waiting for {status}");
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(50, cts.Token);
        }
    }

    /// <summary>A client whose every host name (lab hosts included) goes to 127.0.0.1, so the port picks the replica.</summary>
    private static SocketsHttpHandler NoRedirects()
    {
        var handler = SourceAddress.Handler("127.0.0.1", IPAddress.Loopback);
        handler.AllowAutoRedirect = false;
        handler.UseCookies = false;
        return handler;
    }

    private static string Required(string variable) => Environment.GetEnvironmentVariable(variable)
        ?? throw new InvalidOperationException($"{variable} is not set: run the tests with ./scripts/test.sh");
}

/// <summary>A Server whose Redis is unreachable from the start (a port nothing listens on).</summary>
public sealed class RedisDownServer : ServerFixture
{
    protected override IEnumerable<string> Settings => [.. base.Settings, $"ConnectionStrings:Redis=127.0.0.1:{ProcessHost.FreePort()},abortConnect=false,connectTimeout=300"];
}

public sealed class RedisDownTests(RedisDownServer server) : IClassFixture<RedisDownServer>
{
    [Fact]
    public async Task WithRedisDown_LiveStatusStillReachesThisReplicasConnections_AndNothingFails()
    {
        var token = server.Token(Guid.NewGuid());
        var messages = new ConcurrentQueue<JsonObject>();
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.Http.BaseAddress!, "/hubs/labs"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        connection.On<JsonObject>("lab:status", messages.Enqueue);
        await connection.StartAsync();

        var (_, started, _) = await server.StartAsync(ServerFixture.CryptoLab, token);
        var id = started["data"]!["id"]!.GetValue<string>();
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        await server.StopAndWaitAsync(id, token);
        await server.AssertNoVmLeftAsync([id]);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!messages.Any(m => m["instanceId"]!.GetValue<string>() == id && m["status"]!.GetValue<string>() == "stopped"))
        {
            await Task.Delay(50, cts.Token);
        }

        Assert.Contains(messages, m => m["instanceId"]!.GetValue<string>() == id && m["status"]!.GetValue<string>() == "running");
    }
}
