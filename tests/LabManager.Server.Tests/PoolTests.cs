using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using LabManager.Testing;
using Xunit.Abstractions;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>A Server whose learners may start as often as the pool tests need.</summary>
public sealed class PoolServer : ServerFixture
{
    protected override IEnumerable<string> Settings => ["Api:MaxStartsPerWindow=1000"];
}

public sealed class PoolTests(PoolServer server, ITestOutputHelper output) : IClassFixture<PoolServer>
{
    private readonly string _admin = server.Token(Guid.NewGuid(), admin: true);

    private Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> SetPoolAsync(string lab, string body, string? token = null) =>
        server.SendAsync(HttpMethod.Put, $"/api/admin/labs/{lab}/pool", token ?? _admin, body);

    private async Task<JsonObject?> PoolAsync(string lab) =>
        (await server.SendAsync(HttpMethod.Get, "/api/admin/pools", _admin)).Body["data"]!.AsArray()
            .Select(p => p!.AsObject()).FirstOrDefault(p => p["labId"]!.GetValue<string>() == lab);

    private async Task WaitForReadyAsync(string lab, int ready, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (await PoolAsync(lab) is not { } pool || pool["ready"]!.GetValue<int>() != ready || pool["booting"]!.GetValue<int>() != 0)
        {
            Assert.True(clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(60)), $"the pool of {lab} did not reach {ready} ready: {(await PoolAsync(lab))?.ToJsonString()}");
            await Task.Delay(100);
        }
    }

    private static int Creates(VultrEmulator.Inspection inspection) => inspection.Creates.Values.Sum();

    /// <summary>Removes the pool, and waits until its VMs and those of <paramref name="ids"/> are gone.</summary>
    private async Task EmptyAsync(string lab, IEnumerable<string> ids)
    {
        Assert.Equal(HttpStatusCode.OK, (await SetPoolAsync(lab, """{"min": 0, "max": 0}""")).Status);
        await server.AssertNoVmLeftAsync(ids, TimeSpan.FromSeconds(120));
        for (var clock = Stopwatch.StartNew(); (await server.Emulator.InspectAsync()).Vms.Count > 0; await Task.Delay(100))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"pooled VMs were left after the pool was removed: {string.Join(", ", (await server.Emulator.InspectAsync()).Vms.Select(v => v.Label))}");
        }
    }

    [Fact]
    public async Task PoolOfTwo_TwoLearnersRunWithoutACreate_TheKeeperRefills_AThirdStartGoesColdAndRuns()
    {
        var (status, set, _) = await SetPoolAsync(JuiceShopLab, """{"min": 2, "max": 2, "maxAgeMinutes": 60}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((2, 2, 60), (set["data"]!["min"]!.GetValue<int>(), set["data"]!["max"]!.GetValue<int>(), set["data"]!["maxAgeMinutes"]!.GetValue<int>()));
        await WaitForReadyAsync(JuiceShopLab, 2);
        var createsBefore = Creates(await server.Emulator.InspectAsync());

        var learners = Enumerable.Range(0, 3).Select(_ => server.Token(Guid.NewGuid())).ToList();
        var ids = new List<string>();
        var clock = Stopwatch.StartNew();
        foreach (var token in learners.Take(2))
        {
            var (started, body, _) = await server.StartAsync(JuiceShopLab, token);
            Assert.Equal(HttpStatusCode.Created, started);
            Assert.Equal("Lab starting from the warm pool", body["message"]!.GetValue<string>());
            ids.Add(body["data"]!["id"]!.GetValue<string>());
        }

        // The third, while the pool refills, boots a VM of its own.
        var (coldStatus, cold, _) = await server.StartAsync(JuiceShopLab, learners[2]);
        Assert.Equal(HttpStatusCode.Created, coldStatus);
        Assert.Equal("Lab starting", cold["message"]!.GetValue<string>());
        ids.Add(cold["data"]!["id"]!.GetValue<string>());

        foreach (var (id, token) in ids.Take(2).Zip(learners))
        {
            var running = await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running, TimeSpan.FromSeconds(30));
            Assert.StartsWith($"http://{id}.lab.localhost:", running["accessUrl"]!.GetValue<string>());
        }

        output.WriteLine($"two claims: start → both running in {clock.ElapsedMilliseconds} ms");
        // The claimed VMs were made before the clicks: none of the learners' was created for them.
        var claimedLabels = ids.Take(2).Select(id => LabInstance.VmLabel(Guid.Parse(id))).ToHashSet();
        var inspection = await server.Emulator.InspectAsync();
        Assert.All(claimedLabels, label => Assert.Equal(1, inspection.Creates.GetValueOrDefault(label)));
        Assert.True(Creates(inspection) - createsBefore <= 3, $"{Creates(inspection) - createsBefore} creates: the cold start and at most the two refills");

        await server.WaitForStatusAsync(ids[2], learners[2], LabInstanceStatus.Running, TimeSpan.FromSeconds(60));
        await WaitForReadyAsync(JuiceShopLab, 2);
        Assert.Equal(createsBefore + 3, Creates(await server.Emulator.InspectAsync()));
        var pool = (await PoolAsync(JuiceShopLab))!;
        Assert.Equal((2, 1), (pool["claimedLastHour"]!.GetValue<int>(), pool["coldLastHour"]!.GetValue<int>()));
        Assert.Equal(0.667, pool["hitRate"]!.GetValue<double>());

        // A ready VM whose lab stopped answering is retired and replaced (the keeper woken by the settings, as at its next turn).
        var crashed = await server.Db.ScalarAsync<Guid>($"SELECT id FROM lab_instances WHERE lab_id = '{JuiceShopLab}' AND status = 'pooled' ORDER BY created_at LIMIT 1");
        await server.Emulator.CrashLabAsync(await server.Db.ScalarAsync<string>($"SELECT cloud_instance_id FROM lab_instances WHERE id = '{crashed}'"));
        Assert.Equal(HttpStatusCode.OK, (await SetPoolAsync(JuiceShopLab, """{"min": 2, "max": 2, "maxAgeMinutes": 60}""")).Status);
        for (var waited = Stopwatch.StartNew(); await server.Db.ScalarAsync<string>($"SELECT status FROM lab_instances WHERE id = '{crashed}'") != "stopped"; await Task.Delay(100))
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the pooled VM whose lab died was not retired");
        }

        await WaitForReadyAsync(JuiceShopLab, 2);
        Assert.Equal(createsBefore + 4, Creates(await server.Emulator.InspectAsync()));
        Assert.DoesNotContain((await server.Emulator.InspectAsync()).Vms, v => v.Label == LabInstance.VmLabel(crashed));

        // A dead VM and a surplus in the same turn: both go in that turn (the dead one is not taken for the surplus), well before the
        // keeper's next turn (30 s).
        await server.Emulator.CrashLabAsync(await server.Db.ScalarAsync<string>(
            $"SELECT cloud_instance_id FROM lab_instances WHERE lab_id = '{JuiceShopLab}' AND status = 'pooled' ORDER BY created_at LIMIT 1"));
        Assert.Equal(HttpStatusCode.OK, (await SetPoolAsync(JuiceShopLab, """{"min": 0, "max": 2}""")).Status);
        await WaitForReadyAsync(JuiceShopLab, 0, TimeSpan.FromSeconds(15));

        foreach (var (id, token) in ids.Zip(learners))
        {
            await server.StopAndWaitAsync(id, token);
        }

        await EmptyAsync(JuiceShopLab, ids);
    }

    [Fact]
    public async Task FiftyConcurrentStarts_PoolOfFive_ExactlyFiveClaimed_NoneTwice_NothingLeft()
    {
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.OK, (await SetPoolAsync(DvwaLab, """{"min": 5, "max": 5}""")).Status);
        await WaitForReadyAsync(DvwaLab, 5, TimeSpan.FromSeconds(90));
        output.WriteLine($"pool of 5 ready: {clock.Elapsed.TotalSeconds:F1} s");
        var pooled = await server.Db.ScalarAsync<long>($"SELECT count(*) FROM lab_instances WHERE status = 'pooled' AND lab_id = '{DvwaLab}'");
        Assert.Equal(5, pooled);

        var learners = Enumerable.Range(0, 50).Select(_ => Guid.NewGuid()).ToDictionary(u => u, u => server.Token(u));
        var answers = await Task.WhenAll(learners.Values.Select(token => server.StartAsync(DvwaLab, token)));
        output.WriteLine($"50 starts answered: {clock.Elapsed.TotalSeconds:F1} s");

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Created, a.Status));
        var claims = answers.Where(a => a.Body["message"]!.GetValue<string>() == "Lab starting from the warm pool").ToList();
        Assert.Equal(5, claims.Count);
        var ids = answers.Select(a => a.Body["data"]!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(50, ids.Distinct().Count());
        // Every claimed instance is one learner's, and every learner has one instance.
        Assert.Equal(5, await server.Db.ScalarAsync<long>($"SELECT count(DISTINCT user_id) FROM lab_instances WHERE claimed_at IS NOT NULL AND lab_id = '{DvwaLab}'"));
        Assert.Equal(50, answers.Select(a => a.Body["data"]!["userId"]!.GetValue<string>()).Distinct().Count());

        foreach (var (a, token) in answers.Zip(learners.Values))
        {
            await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{a.Body["data"]!["id"]!.GetValue<string>()}/stop", token);
        }

        await EmptyAsync(DvwaLab, ids);
        output.WriteLine($"all 50 stopped and the pool emptied: {clock.Elapsed.TotalSeconds:F1} s");
        var inspection = await server.Emulator.InspectAsync();
        Assert.All(ids, id => Assert.Equal(1, inspection.Creates.GetValueOrDefault(LabInstance.VmLabel(Guid.Parse(id)))));
    }

    [Fact]
    public async Task ScheduledWarmUp_ReadyByItsTime_DrainedAfterItsEnd()
    {
        var at = DateTimeOffset.UtcNow.AddSeconds(20);
        var until = at.AddSeconds(5);
        var (status, set, _) = await SetPoolAsync(NetworkLab, $$"""{"min": 0, "max": 2, "warmUps": [{"at": "{{at:o}}", "count": 2, "until": "{{until:o}}"}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, set["data"]!["warmUps"]![0]!["count"]!.GetValue<int>());

        // The lab's boot time is not known yet: the keeper starts at once, well before the class.
        await WaitForReadyAsync(NetworkLab, 2, TimeSpan.FromSeconds(20));
        output.WriteLine($"warm-up ready {(at - DateTimeOffset.UtcNow).TotalSeconds:F1} s before its time");
        Assert.True(DateTimeOffset.UtcNow < at, "the warm-up was not ready by its time");

        // After its end, the pool (min 0) drains.
        await WaitForReadyAsync(NetworkLab, 0, until - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30));
        Assert.True(DateTimeOffset.UtcNow >= until, "the warm-up drained before its end");
        await EmptyAsync(NetworkLab, []);
    }

    [Theory]
    [InlineData("""{"min": 1, "max": 2, "warmUps": [{"at": "2026-12-01T09:00:00Z", "count": 3, "until": "2026-12-01T10:00:00Z"}]}""", "warmUps[0].count must be from 1 to max")]
    [InlineData("""{"min": 1, "max": 2, "warmUps": [{"at": "2026-12-01T09:00:00Z", "count": 1, "until": "2026-12-01T09:00:00Z"}]}""", "warmUps[0].until must be after its at")]
    [InlineData("""{"min": 3, "max": 2}""", "max must be at least min")]
    [InlineData("""{"min": -1, "max": 2}""", "min must be 0 or more")]
    [InlineData("""{"min": 1, "max": 101}""", "max must be at most the global quota of 100 instances")]
    [InlineData("""{"min": 1, "max": 2, "maxAgeMinutes": 1}""", "maxAgeMinutes must be between 5 and 1440")]
    [InlineData("""{"max": 2}""", "min and max are required")]
    [InlineData("""{"min": 1, "max": 2, "size": 3}""", "The request body has fields this route does not take")]
    public async Task BadPoolSettings_400_NothingChanged(string body, string message)
    {
        var (status, answer, _) = await SetPoolAsync(CryptoLab, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(message, answer["message"]!.GetValue<string>());
        Assert.Null(await PoolAsync(CryptoLab));
        Assert.Equal(0, await server.Db.ScalarAsync<long>($"SELECT count(*) FROM labs WHERE pool IS NOT NULL AND id = '{CryptoLab}'"));
    }

    [Fact]
    public async Task AKeeperThatEnded_IsStartedAgainWhenWoken()
    {
        var control = server.Services.GetRequiredService<ILabSessionControl>();
        var client = server.Services.GetRequiredService<DurableTaskClient>();
        // A lab without a pool: its keeper looks once, finds nothing to keep, and ends.
        var lab = Guid.Parse(CryptoLab);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await control.WakePoolKeeperAsync(lab, 100);
        var first = await client.WaitForInstanceCompletionAsync(LabPool.KeeperId(lab), timeout.Token);

        await control.WakePoolKeeperAsync(lab, 100);
        var second = await client.WaitForInstanceCompletionAsync(LabPool.KeeperId(lab), timeout.Token);

        Assert.Equal((OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Completed), (first.RuntimeStatus, second.RuntimeStatus));
        Assert.True(second.CreatedAt > first.CreatedAt, $"the keeper was not started again ({first.CreatedAt:o}, {second.CreatedAt:o})");
    }

    [Fact]
    public async Task SetPool_OperatorsOnly_UnknownLab404()
    {
        Assert.Equal(HttpStatusCode.Forbidden, (await SetPoolAsync(CryptoLab, """{"min": 1, "max": 1}""", server.Token(Guid.NewGuid()))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SetPoolAsync(Guid.NewGuid().ToString(), """{"min": 1, "max": 1}""")).Status);
        Assert.Null(await PoolAsync(CryptoLab));
    }
}

/// <summary>The keeper on the durable engine, its Server killed with SIGKILL while it fills the pool.</summary>
[Collection(ServerProcessTests.Collection)]
public sealed class PoolCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcesses _lab = null!;

    public async Task InitializeAsync() => _lab = await ServerProcesses.StartAsync(
        Environment.GetEnvironmentVariable("LABMANAGER_TEST_AZURITE") ?? throw new InvalidOperationException("run the tests with ./scripts/test.sh"),
        ["Emulator:PendingSeconds=2", "Emulator:BootSeconds=2", "Emulator:InstallSeconds=2", "Emulator:CloudInitSeconds=1"], ServerProcesses.FastTimings);

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private Task<long> PooledAsync(string status) =>
        _lab.Db.ScalarAsync<long>($"SELECT count(*) FROM lab_instances WHERE lab_id = '{DvwaLab}' AND status = '{status}' AND claimed_at IS NULL");

    [Fact]
    public async Task KeeperKilledWhileFilling_ResumesOnRestart_OneVmPerSlot_NoneLeftOnceRemoved()
    {
        var admin = _lab.Token(Guid.NewGuid(), admin: true);
        Assert.Equal(HttpStatusCode.OK, (await _lab.SendAsync(HttpMethod.Put, $"/api/admin/labs/{DvwaLab}/pool", admin, """{"min": 3, "max": 3}""")).Status);
        await ProcessHost.WaitUntilAsync(async () => (await _lab.Emulator.InspectAsync()).Creates.Values.Sum() >= 1, TimeSpan.FromSeconds(30), () => "the keeper booted nothing");

        await _lab.KillServerAsync();
        output.WriteLine($"killed with {(await _lab.Emulator.InspectAsync()).Creates.Values.Sum()} VMs created, {await PooledAsync("pooled")} ready");
        await _lab.StartServerAsync();

        await ProcessHost.WaitUntilAsync(async () => await PooledAsync("pooled") == 3, TimeSpan.FromSeconds(90), () => "the pool did not fill after the restart");
        // A little longer: nothing more is booted once the pool is full.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var inspection = await _lab.Emulator.InspectAsync();
        Assert.Equal(3, inspection.Vms.Count);
        Assert.Equal(3, inspection.Creates.Values.Sum());
        Assert.All(inspection.Creates.Values, creates => Assert.Equal(1, creates));
        Assert.Equal(3, await _lab.Db.ScalarAsync<long>($"SELECT count(*) FROM lab_instances WHERE lab_id = '{DvwaLab}'"));

        Assert.Equal(HttpStatusCode.OK, (await _lab.SendAsync(HttpMethod.Put, $"/api/admin/labs/{DvwaLab}/pool", admin, """{"min": 0, "max": 0}""")).Status);
        await ProcessHost.WaitUntilAsync(async () => (await _lab.Emulator.InspectAsync()).Vms.Count == 0, TimeSpan.FromSeconds(90), () => "pooled VMs were left");
        // Each ended stopped, retired from the pool.
        await ProcessHost.WaitUntilAsync(async () => await PooledAsync("stopped") == 3, TimeSpan.FromSeconds(30),
            () => "pooled instances did not all end stopped: " + string.Join(", ", _lab.Db.ScalarAsync<string>($"SELECT string_agg(status || ' ' || coalesce(error_message, ''), '; ') FROM lab_instances WHERE lab_id = '{DvwaLab}'").Result));
    }
}
