using System.Diagnostics;
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

    private ServiceProvider Build(string apiKey, int pageSize = 500)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Vultr:BaseUrl"] = _emulator.ApiBase.ToString(),
            ["Vultr:ApiKey"] = apiKey,
            ["Vultr:RetryDelay"] = "00:00:00.100",
            ["Vultr:PageSize"] = pageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Trace));
        services.AddVultrCloudProvider(configuration);
        return services.BuildServiceProvider();
    }

    private static VmSpec Spec(string label) => new(label, "ewr", "vc2-1c-1gb", "#!/bin/bash\necho hi\n", ["labmanager"]);

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
    public async Task RebootAndReinstall_Answered()
    {
        var vm = await Cloud.CreateVmAsync(Spec("lab-power"));
        await Cloud.RebootVmAsync(vm.Id);
        await Cloud.ReinstallVmAsync(vm.Id);
        var requests = (await _emulator.InspectAsync()).Requests;
        Assert.Equal(1, requests["reboot"]);
        Assert.Equal(1, requests["reinstall"]);
        var missing = await Assert.ThrowsAsync<CloudProviderException>(() => Cloud.RebootVmAsync(Guid.NewGuid().ToString()));
        Assert.Equal(404, missing.StatusCode);
    }

    [Fact]
    public async Task ServerErrors_ReadsAreRetriedUntilTheySucceed()
    {
        var vm = await Cloud.CreateVmAsync(Spec("lab-5xx"));
        await _emulator.SetFaultsAsync(new FaultSettings { ErrorRate = 0.3 });

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(vm.Id, (await Cloud.GetVmAsync(vm.Id))!.Id);
        }

        Assert.True((await _emulator.InspectAsync()).Requests.GetValueOrDefault("answered_5xx") > 0);
    }

    [Fact]
    public async Task CreateAnswerLost_NotRetriedBlindly_NextCreateAdopts()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { LoseCreateAnswerRate = 1 });

        var ex = await Assert.ThrowsAsync<CloudProviderException>(() => Cloud.CreateVmAsync(Spec("lab-once")));
        Assert.StartsWith("Vultr create instance failed", ex.Message, StringComparison.Ordinal);
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

        var ex = await Assert.ThrowsAsync<CloudProviderException>(() => wrong.GetRequiredService<ICloudProvider>().ListVmsAsync("labmanager"));

        Assert.Equal(401, ex.StatusCode);
        Assert.Equal("Vultr list instances answered 401: Invalid API token.", ex.Message);
        await Cloud.CreateVmAsync(Spec("lab-logged"));
        Assert.NotEmpty(_logs.Lines);
        Assert.DoesNotContain(_logs.Lines, l => l.Contains(secret, StringComparison.Ordinal) || l.Contains(_emulator.ApiKey, StringComparison.Ordinal));
        Assert.DoesNotContain(secret, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Options_NoApiKey_FailNamingTheSetting()
    {
        using var services = Build("");
        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<VultrOptions>>().Value);
        Assert.Contains("Vultr:ApiKey is required", ex.Message, StringComparison.Ordinal);
    }
}
