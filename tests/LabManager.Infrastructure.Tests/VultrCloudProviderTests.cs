using System.Diagnostics;
using System.Net.Http.Json;
using LabManager.Core.Ports;
using LabManager.Testing;
using LabManager.Infrastructure.Vultr;
using LabManager.VultrEmulator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Infrastructure.Tests;

/// <summary>The Vultr client over real HTTP against the emulator.</summary>
public sealed class VultrCloudProviderTests : IAsyncLifetime
{
    private VultrEmulatorApp _emulator = null!;
    private ServiceProvider _services = null!;
    private readonly MemoryLoggerProvider _logs = new(LogLevel.Trace);

    private ICloudProvider Cloud => _services.GetRequiredService<ICloudProvider>();

    public async Task InitializeAsync()
    {
        _emulator = await VultrEmulatorApp.StartAsync(o => o.PendingSeconds = 0.2);
        _services = Build(_emulator.ApiKey);
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    private ServiceProvider Build(string apiKey, int pageSize = 500, params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            ["Vultr:BaseUrl"] = _emulator.ApiBase.ToString(),
            ["Vultr:ApiKey"] = apiKey,
            ["Vultr:RetryDelay"] = "00:00:00.100",
            ["Vultr:PageSize"] = pageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings)
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Trace));
        services.AddRedisCache(configuration);
        services.AddVultrCloudProvider(configuration);
        return services.BuildServiceProvider();
    }

    /// <summary>The VM as the emulator's API shows it.</summary>
    private async Task<System.Text.Json.Nodes.JsonNode> ShownAsync(string id)
    {
        using var api = new HttpClient { BaseAddress = _emulator.ApiBase };
        api.DefaultRequestHeaders.Authorization = new("Bearer", _emulator.ApiKey);
        return (await api.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"instances/{id}"))!["instance"]!;
    }

    private Task<string> ForeignVmAsync(string label, params string[] tags) => ForeignVms.CreateAsync(_emulator.ApiBase, _emulator.ApiKey, label, tags);

    private static VmSpec Spec(string label) => new(label, "ewr", "vc2-1c-1gb", "#!/bin/bash\necho hi\n", ["labmanager"]);

    [Fact]
    public async Task FirewallGroups_FoundAgainByDescription_RulesMadeExact_DeletedOnce()
    {
        using var paged = Build(_emulator.ApiKey, pageSize: 1);
        var cloud = paged.GetRequiredService<ICloudProvider>();
        await cloud.EnsureFirewallAsync("someone else's group");

        var id = await cloud.EnsureFirewallAsync("labmanager lab-1");
        Assert.Equal(id, await cloud.EnsureFirewallAsync("labmanager lab-1"));
        Assert.Single(await cloud.ListFirewallsAsync(), g => g.Description == "labmanager lab-1");

        await cloud.SetFirewallRulesAsync(id, [new("tcp", 80, "203.0.113.7", 32), new("tcp", 2222, "198.51.100.9", 32)]);
        await cloud.SetFirewallRulesAsync(id, [new("tcp", 80, "203.0.113.7", 32), new("tcp", 2222, "198.51.100.10", 32), new("udp", 53, "2001:db8::5", 128)]);
        using var api = new HttpClient { BaseAddress = _emulator.ApiBase };
        api.DefaultRequestHeaders.Authorization = new("Bearer", _emulator.ApiKey);
        var rules = (await api.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>($"firewalls/{id}/rules"))!["firewall_rules"]!.AsArray()
            .Select(r => $"{r!["ip_type"]} {r["protocol"]} {r["port"]} {r["subnet"]}/{r["subnet_size"]}").Order().ToList();
        Assert.Equal(["v4 tcp 2222 198.51.100.10/32", "v4 tcp 80 203.0.113.7/32", "v6 udp 53 2001:db8::5/128"], rules);

        await cloud.DeleteFirewallAsync(id);
        await cloud.DeleteFirewallAsync(id);
        Assert.DoesNotContain(await cloud.ListFirewallsAsync(), g => g.Id == id);
        Assert.Contains(await cloud.ListFirewallsAsync(), g => g.Description == "someone else's group");
    }

    [Fact]
    public async Task CreateVm_LabelAlreadyUsed_AdoptsExistingVm()
    {
        var first = await Cloud.CreateVmAsync(Spec("lab-adopt"));
        var second = await Cloud.CreateVmAsync(Spec("lab-adopt"));

        Assert.Equal(first.Id, second.Id);
        var inspection = await _emulator.InspectAsync();
        Assert.Equal(1, inspection.Creates["lab-adopt"]);
        Assert.Equal(["labmanager"], first.Tags);
        await Cloud.DeleteVmAsync(first.Id);
    }

    [Fact]
    public async Task GetVm_UntilReady_ReportsLifecycle()
    {
        var vm = await Cloud.CreateVmAsync(Spec("lab-get"));
        Assert.False(vm.IsReady);
        Assert.Equal("0.0.0.0", vm.MainIp);

        CloudVm? now;
        var clock = Stopwatch.StartNew();
        do
        {
            await Task.Delay(100);
            now = await Cloud.GetVmAsync(vm.Id);
        }
        while (now is { IsReady: false } && clock.Elapsed < TimeSpan.FromSeconds(15));

        Assert.True(now!.IsReady, now.Describe());
        Assert.StartsWith("127.", now.MainIp, StringComparison.Ordinal);
        await Cloud.DeleteVmAsync(vm.Id);
        Assert.Null(await Cloud.GetVmAsync(vm.Id));
    }

    [Fact]
    public async Task DeleteVm_AlreadyGone_Succeeds()
    {
        await Cloud.DeleteVmAsync(Guid.NewGuid().ToString());
        Assert.Equal(1, (await _emulator.InspectAsync()).Requests["delete"]);
    }

    [Fact]
    public async Task ListVms_SeveralPages_ReturnsEveryTaggedVm()
    {
        await using var paged = Build(_emulator.ApiKey, pageSize: 2);
        var cloud = paged.GetRequiredService<ICloudProvider>();
        for (var i = 0; i < 5; i++)
        {
            await cloud.CreateVmAsync(Spec($"lab-page-{i}"));
        }

        await cloud.CreateVmAsync(Spec("untagged") with { Tags = [] });

        var all = await cloud.ListVmsAsync("labmanager");

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"lab-page-{i}"), all.Select(v => v.Label).Order());
        Assert.True((await _emulator.InspectAsync()).Requests["list"] >= 3);
    }

    [Fact]
    public async Task Reboot_Answered_UnknownVm404()
    {
        var vm = await Cloud.CreateVmAsync(Spec("lab-power"));
        await Cloud.RebootVmAsync(vm.Id);
        var requests = (await _emulator.InspectAsync()).Requests;
        Assert.Equal(1, requests["reboot"]);
        var missing = await Assert.ThrowsAsync<CloudRequestRefusedException>(() => Cloud.RebootVmAsync(Guid.NewGuid().ToString()));
        Assert.Equal(404, missing.StatusCode);
    }

    [Fact]
    public async Task ServerErrors_ReadsAreRetriedUntilTheySucceed()
    {
        var vm = await Cloud.CreateVmAsync(Spec("lab-5xx"));
        await _emulator.SetFaultsAsync(new FaultSettings { ErrorRate = 0.3 });

        // Reads until some were answered 500 (30 % each: 10 reads see none 3 % of the time), every one of them succeeding.
        var reads = 0;
        for (; reads < 10 || ((await _emulator.InspectAsync()).Requests.GetValueOrDefault("answered_5xx") == 0 && reads < 100); reads++)
        {
            Assert.Equal(vm.Id, (await Cloud.GetVmAsync(vm.Id))!.Id);
        }

        Assert.True((await _emulator.InspectAsync()).Requests.GetValueOrDefault("answered_5xx") > 0, $"no 500 in {reads} reads");
    }

    [Fact]
    public async Task CreateAnswerLost_NotRetriedBlindly_NextCreateAdopts()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { LoseCreateAnswerRate = 1 });

        var ex = await Assert.ThrowsAsync<CloudProviderException>(() => Cloud.CreateVmAsync(Spec("lab-once")));
        Assert.StartsWith("Vultr create instance (plan vc2-1c-1gb in ewr, os 1743) failed", ex.Message, StringComparison.Ordinal);
        // The create may have happened, so it went out once; the caller's retry looks the label up instead.
        Assert.Equal(1, (await _emulator.InspectAsync()).Requests["create"]);

        var adopted = await Cloud.CreateVmAsync(Spec("lab-once"));
        var inspection = await _emulator.InspectAsync();
        Assert.Equal(1, inspection.Requests["create"]);
        Assert.Equal(adopted.Id, Assert.Single(inspection.Vms).Id);
    }

    [Fact]
    public async Task RateLimited_429s_RetriedAfterRetryAfter()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { RateLimitPerSecond = 2 });

        var calls = Enumerable.Range(0, 6).Select(_ => Cloud.GetVmAsync(Guid.NewGuid().ToString()));
        var results = await Task.WhenAll(calls);

        Assert.All(results, Assert.Null);
        Assert.True((await _emulator.InspectAsync()).Requests["answered_429"] > 0);
    }

    [Fact]
    public async Task ClientLimiter_BurstOf90_StaysUnderVultrLimit()
    {
        // The emulator answers 429 above 30 requests/s, like Vultr.
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 90).Select(_ => Cloud.GetVmAsync(Guid.NewGuid().ToString())));

        var inspection = await _emulator.InspectAsync();
        Assert.Equal(0, inspection.Requests.GetValueOrDefault("answered_429"));
        Assert.InRange(inspection.PeakRequestsPerSecond, 1, 30);
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(2), $"90 calls in {clock.Elapsed}: not limited");
    }

    [Fact]
    public async Task WrongKey_ClearErrorAndKeyNeverLogged()
    {
        const string secret = "sk-live-0123456789abcdef";
        await using var wrong = Build(secret);

        var ex = await Assert.ThrowsAsync<CloudRequestRefusedException>(() => wrong.GetRequiredService<ICloudProvider>().ListVmsAsync("labmanager"));

        Assert.Equal(401, ex.StatusCode);
        Assert.Equal("Vultr list instances answered 401: Invalid API token.", ex.Message);
        await Cloud.CreateVmAsync(Spec("lab-logged"));
        Assert.NotEmpty(_logs.Lines);
        Assert.DoesNotContain(_logs.Lines, l => l.Contains(secret, StringComparison.Ordinal) || l.Contains(_emulator.ApiKey, StringComparison.Ordinal));
        Assert.DoesNotContain(secret, ex.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("contains")]
    [InlineData("ignore")]
    public async Task FindAndAdopt_FiltersNotApplied_OnlyTheExactLabelWithOurTag(string filters)
    {
        await using var paged = Build(_emulator.ApiKey, pageSize: 2);
        var cloud = paged.GetRequiredService<ICloudProvider>();
        var label = Core.Instances.LabInstance.VmLabel(Guid.NewGuid());
        var untagged = await ForeignVmAsync(label);
        var otherTeam = await ForeignVmAsync(label, "team-b");
        var longer = await ForeignVmAsync(label + "-2", "labmanager-old");
        await ForeignVmAsync("prod-db", "prod");
        await _emulator.SetFaultsAsync(new FaultSettings { Filters = filters });

        Assert.Null(await cloud.FindVmByLabelAsync(label, "labmanager"));
        var created = await cloud.CreateVmAsync(Spec(label));

        Assert.DoesNotContain(created.Id, new[] { untagged, otherTeam, longer });
        Assert.Equal(created.Id, (await cloud.FindVmByLabelAsync(label, "labmanager"))!.Id);
        // Adopting again finds ours, on whichever page the unfiltered list puts it.
        Assert.Equal(created.Id, (await cloud.CreateVmAsync(Spec(label))).Id);
        Assert.Equal(5, (await _emulator.InspectAsync()).Vms.Count);
    }

    [Fact]
    public async Task CreateVm_BootImageAndRefusals_NamedInTheError()
    {
        var docker = await Cloud.CreateVmAsync(Spec("lab-image") with { Image = new BootImage(ImageId: "docker") });
        Assert.Equal("docker", (await ShownAsync(docker.Id))["image_id"]!.GetValue<string>());

        var plan = await Assert.ThrowsAsync<CloudRequestRefusedException>(() => Cloud.CreateVmAsync(Spec("lab-plan") with { Region = "sea", Plan = "vc2-4c-8gb" }));
        Assert.Equal((400, "Vultr create instance (plan vc2-4c-8gb in sea, os 1743) answered 400: Invalid plan chosen."), (plan.StatusCode, plan.Message));
        var image = await Assert.ThrowsAsync<CloudRequestRefusedException>(() => Cloud.CreateVmAsync(Spec("lab-bad-image") with { Image = new BootImage(ImageId: "nope") }));
        Assert.EndsWith("answered 400: Invalid image_id.", image.Message, StringComparison.Ordinal);
        var snapshot = await Assert.ThrowsAsync<CloudRequestRefusedException>(() => Cloud.CreateVmAsync(Spec("lab-bad-snap") with { Image = new BootImage(SnapshotId: "0f9c") }));
        Assert.EndsWith("answered 400: Invalid snapshot_id.", snapshot.Message, StringComparison.Ordinal);
        // A refused create is refused once: nothing to retry, nothing made.
        var inspection = await _emulator.InspectAsync();
        Assert.Equal(4, inspection.Requests["create"]);
        Assert.Single(inspection.Vms);
    }

    [Fact]
    public async Task CreateVm_DefaultImageSetting_UsedForLabsThatNameNone()
    {
        await using var services = Build(_emulator.ApiKey, 500, ("VULTR_DEFAULT_IMAGE", "docker"));
        var vm = await services.GetRequiredService<ICloudProvider>().CreateVmAsync(Spec("lab-default-image"));
        Assert.Equal("docker", (await ShownAsync(vm.Id))["image_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task DateCreated_AccountOffset_ReadAsTheRightInstant()
    {
        var vm = await Cloud.CreateVmAsync(Spec("lab-offset"));
        Assert.Equal(TimeSpan.Zero, vm.DateCreated.Offset);
        Assert.InRange(vm.DateCreated, DateTimeOffset.UtcNow.AddSeconds(-10), DateTimeOffset.UtcNow.AddSeconds(1));
    }

    [Fact]
    public async Task DeleteVm_Locked_RefusedAtOnceWithVultrsReason_NotRetriedBlindly()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { LockedRate = 1 });
        var vm = await Cloud.CreateVmAsync(Spec("lab-locked"));
        for (var i = 0; i < 100 && (await Cloud.GetVmAsync(vm.Id))!.Status == "pending"; i++)
        {
            await Task.Delay(25);
        }

        var ex = await Assert.ThrowsAsync<CloudProviderException>(() => Cloud.DeleteVmAsync(vm.Id));

        Assert.Equal((500, "Vultr delete instance answered 500: Unable to destroy server: Unable to remove VM: Server is currently locked"), (ex.StatusCode, ex.Message));
        var inspection = await _emulator.InspectAsync();
        Assert.Equal((1, 1), (inspection.Requests["delete"], inspection.Requests["refused_locked"]));
        Assert.Single(inspection.Vms);
    }

    [Fact]
    public async Task UnauthorizedIp_ReportedAsSuch_InTheErrorTheHealthAndTheLog()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { AllowedIps = "203.0.113.7" });

        var ex = await Assert.ThrowsAsync<CloudRequestRefusedException>(() => Cloud.ListVmsAsync("labmanager"));

        Assert.Equal("Vultr list instances answered 401: Unauthorized IP address: 127.0.0.1", ex.Message);
        var health = await _services.GetRequiredService<VultrHealth>().CheckAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal((false, "Vultr answered 401: Unauthorized IP address: 127.0.0.1"), (health.Ok, health.Detail));
        Assert.Contains(_logs.Lines, l => l.Contains("Unauthorized IP address: 127.0.0.1 (the API key's access control does not allow", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Health_200Concurrent_AtMostOneVultrCall_ThenNoneWhileFresh()
    {
        var health = _services.GetRequiredService<VultrHealth>();

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => health.CheckAsync(TimeSpan.FromSeconds(5), CancellationToken.None)));
        Assert.All(answers, a => Assert.True(a.Ok, a.Detail));
        Assert.Equal(1, (await _emulator.InspectAsync()).Requests.Values.Sum());
        await health.CheckAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(1, (await _emulator.InspectAsync()).Requests.Values.Sum());
    }

    [Fact]
    public async Task Health_VultrSlowerThanTheTimeout_FailsWithinIt()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { LatencyMs = 5000 });
        var clock = Stopwatch.StartNew();

        var answer = await _services.GetRequiredService<VultrHealth>().CheckAsync(TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.False(answer.Ok);
        Assert.Equal("Vultr did not answer within 1 s", answer.Detail);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task SharedLimiter_TwoProcessesThroughRedis_KeepTheDeploymentsBudget()
    {
        var redis = Environment.GetEnvironmentVariable("LABMANAGER_TEST_REDIS")
            ?? throw new InvalidOperationException("LABMANAGER_TEST_REDIS is not set: run the tests with ./scripts/test.sh, which starts redis-server");
        // Two app instances behind one outbound IP: 10 calls/s for the deployment, however the calls are split.
        (string, string)[] shared = [("ConnectionStrings:Redis", redis), ("Vultr:MaxRequestsPerSecond", "10")];
        await using var a = Build(_emulator.ApiKey, 500, shared);
        await using var b = Build(_emulator.ApiKey, 500, shared);
        await ProcessHost.WaitUntilAsync(() => Task.FromResult(a.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>().IsConnected
            && b.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>().IsConnected), TimeSpan.FromSeconds(10), () => "Redis did not connect");
        var clock = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? a : b).GetRequiredService<ICloudProvider>().GetVmAsync(Guid.NewGuid().ToString())));

        // 40 calls at 10/s in all: about 4 s (each process alone would have allowed 10/s, 2 s for its 20).
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(3.5), $"40 calls in {clock.Elapsed}: the budget was not shared");
        // Never more than 10 in one of the emulator's seconds, however late timers fire on a loaded machine; unshared, it would be 20.
        Assert.InRange((await _emulator.InspectAsync()).PeakRequestsPerSecond, 1, 10);
        Assert.True(a.GetRequiredService<VultrRateLimiter>().Shared && b.GetRequiredService<VultrRateLimiter>().Shared);
    }

    [Fact]
    public async Task SharedLimiter_RedisDown_EachProcessKeepsItsShare()
    {
        var deadPort = ProcessHost.FreePort();
        await using var services = Build(_emulator.ApiKey, 500,
            ("ConnectionStrings:Redis", $"127.0.0.1:{deadPort}"), ("Vultr:MaxRequestsPerSecond", "20"), ("Vultr:Replicas", "4"));
        var clock = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => services.GetRequiredService<ICloudProvider>().GetVmAsync(Guid.NewGuid().ToString())));

        // 20/s shared by 4 replicas: 5/s for this one, so 16 calls take about 3 s.
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(2.5), $"16 calls in {clock.Elapsed}");
        Assert.False(services.GetRequiredService<VultrRateLimiter>().Shared);
        Assert.Contains(_logs.Lines, l => l.Contains("pacing Vultr calls at this process's share", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_NoApiKey_FailNamingTheSetting()
    {
        using var services = Build("");
        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<VultrOptions>>().Value);
        Assert.Contains("Vultr:ApiKey is required", ex.Message, StringComparison.Ordinal);
    }
}
