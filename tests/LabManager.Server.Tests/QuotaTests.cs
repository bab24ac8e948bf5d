using System.Diagnostics;
using System.Net;
using LabManager.Core.Instances;
using Xunit.Abstractions;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>A Server whose global quota is 10 active instances.</summary>
public sealed class GlobalQuotaServer : ServerFixture
{
    public const int Global = 10;

    protected override IEnumerable<string> Settings => [$"Api:MaxGlobalInstances={Global}", "Api:MaxStartsPerWindow=1000"];
}

/// <summary>A Server with 2 active instances per user and 3 starts per user per 10 minutes.</summary>
public sealed class TightLimitsServer : ServerFixture
{
    protected override IEnumerable<string> Settings => ["Api:MaxContainersPerUser=2", "Api:MaxStartsPerWindow=3", "Api:StartWindow=00:10:00"];
}

public sealed class GlobalQuotaTests(GlobalQuotaServer server, ITestOutputHelper output) : IClassFixture<GlobalQuotaServer>
{
    [Fact]
    public async Task Start_200Concurrent_ExactlyGlobalQuotaAdmitted_NoExtraVm()
    {
        var users = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToList();
        var tokens = users.ToDictionary(u => u, u => server.Token(u));
        var clock = Stopwatch.StartNew();

        var answers = await Task.WhenAll(users.Select(u => server.StartAsync(JuiceShopLab, tokens[u])));
        output.WriteLine($"200 concurrent starts answered in {clock.ElapsedMilliseconds} ms");

        var admitted = answers.Where(a => a.Status == HttpStatusCode.Created).ToList();
        var refused = answers.Where(a => a.Status == HttpStatusCode.Conflict).ToList();
        Assert.Equal(GlobalQuotaServer.Global, admitted.Count);
        Assert.Equal(200 - GlobalQuotaServer.Global, refused.Count);
        Assert.All(refused, r => Assert.Equal("global", Assert.Single(r.Body["errors"]!.AsArray())!.GetValue<string>()));
        Assert.Equal(GlobalQuotaServer.Global, await server.InstanceCountAsync());

        var ids = admitted.Select(a => (Id: a.Body["data"]!["id"]!.GetValue<string>(), User: Guid.Parse(a.Body["data"]!["userId"]!.GetValue<string>()))).ToList();
        foreach (var (id, user) in ids)
        {
            await server.WaitForStatusAsync(id, tokens[user], LabInstanceStatus.Running, TimeSpan.FromSeconds(90));
        }

        var inspection = await server.Emulator.InspectAsync();
        Assert.Equal(GlobalQuotaServer.Global, inspection.Vms.Count);
        Assert.Equal(GlobalQuotaServer.Global, inspection.Creates.Values.Sum());

        foreach (var (id, user) in ids)
        {
            await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", tokens[user]);
        }

        await server.AssertNoVmLeftAsync(ids.Select(i => i.Id), TimeSpan.FromSeconds(90));
        Assert.Empty((await server.Emulator.InspectAsync()).Vms);
    }
}

public sealed class TightLimitsTests(TightLimitsServer server) : IClassFixture<TightLimitsServer>
{
    [Fact]
    public async Task Start_ThirdActiveLab_409UserQuota()
    {
        var token = server.Token(Guid.NewGuid());
        var (first, a, _) = await server.StartAsync(DvwaLab, token);
        var (second, b, _) = await server.StartAsync(NetworkLab, token);
        var before = await server.InstanceCountAsync();

        var (third, body, _) = await server.StartAsync(CryptoLab, token);

        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (first, second));
        Assert.Equal(HttpStatusCode.Conflict, third);
        Assert.Equal("user", Assert.Single(body["errors"]!.AsArray())!.GetValue<string>());
        Assert.Equal("You already have 2 active labs, the most allowed; stop one first", body["message"]!.GetValue<string>());
        Assert.Equal(before, await server.InstanceCountAsync());
        await StopAllAsync(token, a, b);
    }

    [Fact]
    public async Task Start_StartStopLoop_429WithRetryAfter()
    {
        var token = server.Token(Guid.NewGuid());
        var started = new List<System.Text.Json.Nodes.JsonObject>();
        foreach (var lab in new[] { DvwaLab, NetworkLab, CryptoLab })
        {
            var (status, body, _) = await server.StartAsync(lab, token);
            Assert.Equal(HttpStatusCode.Created, status);
            started.Add(body);
            var id = body["data"]!["id"]!.GetValue<string>();
            await server.StopAndWaitAsync(id, token);
        }

        var (limited, json, response) = await server.StartAsync(JuiceShopLab, token);

        Assert.Equal(HttpStatusCode.TooManyRequests, limited);
        Assert.StartsWith("Too many starts: at most 3 per 10 minutes", json["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(500), TimeSpan.FromSeconds(600));
        await server.AssertNoVmLeftAsync(started.Select(s => s["data"]!["id"]!.GetValue<string>()));
    }

    private async Task StopAllAsync(string token, params System.Text.Json.Nodes.JsonObject[] starts)
    {
        var ids = starts.Select(s => s["data"]!["id"]!.GetValue<string>()).ToList();
        foreach (var id in ids)
        {
            await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
        }

        await server.AssertNoVmLeftAsync(ids);
    }
}
