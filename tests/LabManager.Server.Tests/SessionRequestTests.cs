using System.Diagnostics;
using System.Net;
using LabManager.Core.Instances;
using LabManager.Testing;

namespace LabManager.Server.Tests;

/// <summary>
/// Restart, reset and extend as a learner can (ab)use them: one rebuild at a time, a bounded number per window, every VM paid for
/// counted; and a restart reaches running only once the VM really came back (Vultr runs user_data once: the per-boot report counts).
/// </summary>
public sealed class SessionRequestTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string DvwaLab = ServerFixture.DvwaLab;

    private async Task<Dictionary<string, int>> CreatesOfAsync(string id) =>
        (await server.Emulator.InspectAsync()).Creates
            .Where(kv => LabInstance.TryParseVmLabel(kv.Key, out var owner, out _) && owner == Guid.Parse(id)).ToDictionary();

    [Fact]
    public async Task Restart_RunOnceUserData_RunningOnlyOnceTheVmBootedAgain()
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartRunningAsync(DvwaLab, token);
        var vmId = (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Body["data"]!["cloudInstanceId"]!.GetValue<string>();
        Assert.Equal(1, (await server.Emulator.InspectAsync()).Vms.Single(v => v.Id == vmId).Boot);

        var clock = Stopwatch.StartNew();
        var (restart, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/restart", token);
        Assert.Equal(HttpStatusCode.Accepted, restart);
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        var took = clock.Elapsed;

        // The emulator keeps ok, and the old lab answering, for 0.5 s after the reboot, then boots for 0.3 s and starts the lab
        // in 0.3 s: running before 1.1 s would have believed the previous boot.
        var vm = (await server.Emulator.InspectAsync()).Vms.Single(v => v.Id == vmId);
        Assert.Equal(2, vm.Boot);
        Assert.True(vm.LabUp);
        Assert.InRange(took, TimeSpan.FromSeconds(1.1), TimeSpan.FromSeconds(8));
        await server.StopAndWaitAsync(id, token);
        await server.AssertNoVmLeftAsync([id]);
    }

    [Fact]
    public async Task Resets_EightAtOnce_OneAccepted_OneNewVm_AndTheCostCountsBoth()
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartRunningAsync(DvwaLab, token);

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/reset", token)));

        Assert.Single(answers, a => a.Status == HttpStatusCode.Accepted);
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.Accepted), a =>
        {
            Assert.Equal(HttpStatusCode.Conflict, a.Status);
            Assert.Equal("This lab is already restarting; it cannot be reset until it runs again", a.Body["message"]!.GetValue<string>());
        });
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        var label = LabInstance.VmLabel(Guid.Parse(id));
        Assert.Equal(new Dictionary<string, int> { [label] = 1, [LabInstance.VmLabel(Guid.Parse(id), 2)] = 1 }, await CreatesOfAsync(id));

        await server.StopAndWaitAsync(id, token);
        await server.AssertNoVmLeftAsync([id]);
        // The operator view and the learner's session agree: two VMs, each its first hour at $0.007.
        var admin = server.Token(Guid.NewGuid(), admin: true);
        var listed = (await server.SendAsync(HttpMethod.Get, "/api/admin/instances?all=true", admin)).Body["data"]!.AsArray().Single(i => i!["id"]!.GetValue<string>() == id)!;
        Assert.Equal(0.014m, listed["costSoFar"]!.GetValue<decimal>());
        await ProcessHost.WaitUntilAsync(async () => (await server.SendAsync(HttpMethod.Get, $"/api/labs/{DvwaLab}/progress", token)).Body["data"]!["sessions"]!.AsArray()
            .Any(s => s!["instanceId"]!.GetValue<string>() == id && s["cost"]?.GetValue<decimal>() == 0.014m), TimeSpan.FromSeconds(20), () => "the session's cost is not 0.014");
    }

    [Fact]
    public async Task Rebuilds_BeyondTheLimit_429WithRetryAfter_AndNothingSent()
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartRunningAsync(DvwaLab, token);
        foreach (var verb in new[] { "restart", "reset" })
        {
            Assert.Equal(HttpStatusCode.Accepted, (await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/{verb}", token)).Status);
            await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        }

        var (status, body, response) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/restart", token);

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.StartsWith("Too many restarts and resets: at most 2 per 60 minutes", body["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromMinutes(58), TimeSpan.FromMinutes(60));
        var instance = (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Body["data"]!;
        Assert.Equal(("running", 2), (instance["status"]!.GetValue<string>(), instance["restartCount"]!.GetValue<int>()));
        Assert.Equal(2, (await CreatesOfAsync(id)).Values.Sum());
        await server.StopAndWaitAsync(id, token);
    }

    [Fact]
    public async Task Extends_BeyondTheLimit_429_AndAtTheMaximumLifetime_409()
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartRunningAsync(DvwaLab, token);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/extend", token, """{"minutes": 60}""")).Status);
        }

        // Three extensions of an hour from a one-hour session reach the four-hour maximum lifetime.
        await ProcessHost.WaitUntilAsync(async () =>
        {
            var data = (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Body["data"]!;
            return data["expiresAt"]!.GetValue<DateTimeOffset>() - data["startedAt"]!.GetValue<DateTimeOffset>() == TimeSpan.FromHours(4);
        }, TimeSpan.FromSeconds(20), () => "the extensions did not reach the maximum lifetime");
        var (capped, body, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/extend", token, """{"minutes": 15}""");
        Assert.Equal(HttpStatusCode.Conflict, capped);
        Assert.Equal("This lab already runs until its maximum lifetime (4 h from its start)", body["message"]!.GetValue<string>());

        var other = await server.StartRunningAsync(ServerFixture.JuiceShopLab, token);
        var (limited, answer, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{other}/extend", token, """{"minutes": 15}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited);
        Assert.StartsWith("Too many extensions: at most 3 per 60 minutes", answer["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await server.StopAndWaitAsync(id, token);
        await server.StopAndWaitAsync(other, token);
    }

    [Theory]
    [InlineData("vm=0&boot=1")]
    [InlineData("vm=1&boot=-3")]
    [InlineData("vm=1&boot=99999999999")]
    [InlineData("boot=two")]
    public async Task PhoneHome_BadBootOrVm_400(string query)
    {
        var (status, body, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{Guid.NewGuid()}/ready?key=k&{query}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("vm and boot must be whole numbers from 1 to 1000000", body["message"]!.GetValue<string>());
    }
}
