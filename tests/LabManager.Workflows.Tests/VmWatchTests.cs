using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Infrastructure;
using LabManager.Testing;
using LabManager.VultrEmulator;
using LabManager.Workflows.Vm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;

namespace LabManager.Workflows.Tests;

/// <summary>The shared VM watch against the emulator over HTTP: who it tells, when, and what it costs.</summary>
public sealed class VmWatchTests : IAsyncLifetime
{
    private VultrEmulatorApp _emulator = null!;
    private ServiceProvider _services = null!;
    private readonly InMemoryInstanceStore _store = new();
    private readonly Mock<ILabSessionControl> _sessions = new();
    private readonly List<(Guid InstanceId, VmSighting Sighting)> _told = [];

    private ICloudProvider Cloud => _services.GetRequiredService<ICloudProvider>();

    public async Task InitializeAsync()
    {
        _emulator = await VultrEmulatorApp.StartAsync(o => (o.PendingSeconds, o.BootSeconds, o.InstallSeconds) = (0.3, 0.3, 0.3));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Vultr:BaseUrl"] = _emulator.ApiBase.ToString(), ["Vultr:ApiKey"] = _emulator.ApiKey, ["Vultr:RetryDelay"] = "00:00:00.100",
        }).Build();
        _services = new ServiceCollection().AddLogging().AddVultrCloudProvider(configuration).BuildServiceProvider();
        _sessions.Setup(s => s.VmSeenAsync(It.IsAny<Guid>(), It.IsAny<VmSighting>(), It.IsAny<CancellationToken>()))
            .Callback<Guid, VmSighting, CancellationToken>((id, seen, _) => { lock (_told) { _told.Add((id, seen)); } })
            .Returns(Task.CompletedTask);
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    private VmWatch Watch() => new(_store, Cloud, _sessions.Object, Options.Create(new LabSessionOptions { VmWatchInterval = TimeSpan.FromMilliseconds(1) }),
        TimeProvider.System, NullLogger<VmWatch>.Instance);

    /// <summary>A provisioning instance with the VM the cloud made for <paramref name="label"/> (its own label unless told otherwise).</summary>
    private async Task<(Guid Id, string VmId)> BootingAsync(string? label = null, string[]? tags = null)
    {
        var id = Guid.NewGuid();
        var vm = await Cloud.CreateVmAsync(new VmSpec(label ?? LabInstance.VmLabel(id), "ewr", "vc2-1c-1gb", "#!/bin/bash\n", tags ?? ["labmanager"], Fresh: true));
        await _store.AddAsync(new LabInstance { Id = id, UserId = Guid.NewGuid(), LabId = Guid.NewGuid(), CreatedAt = DateTimeOffset.UtcNow,
            Status = LabInstanceStatus.Provisioning, CloudInstanceId = vm.Id });
        return (id, vm.Id);
    }

    private async Task<int> TurnsUntilAsync(VmWatch watch, Func<bool> done)
    {
        var turns = 0;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !done(); turns++)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the watch never told the sessions");
            await watch.RunAsync();
            await Task.Delay(50);
        }

        return turns;
    }

    [Fact]
    public async Task BootingVms_AreToldOnceEach_WhenListedUsable_WithOneListATurn_AndNoGets()
    {
        var booting = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => BootingAsync()));
        var before = (await _emulator.InspectAsync()).Requests;
        var watch = Watch();

        var turns = await TurnsUntilAsync(watch, () => _told.Count == booting.Length);
        await watch.RunAsync();
        await watch.RunAsync();

        // Each session once, with its own VM as the cloud lists it.
        Assert.Equal(booting.Select(b => b.Id).Order(), _told.Select(t => t.InstanceId).Order());
        Assert.All(_told, t => Assert.Equal(booting.Single(b => b.Id == t.InstanceId).VmId, t.Sighting.VmId));
        Assert.All(_told, t => Assert.Equal("active/running/ok", t.Sighting.State));
        Assert.All(_told, t => Assert.NotEqual("0.0.0.0", t.Sighting.MainIp));
        var after = (await _emulator.InspectAsync()).Requests;
        int Delta(string kind) => after.GetValueOrDefault(kind) - before.GetValueOrDefault(kind);
        Assert.Equal(0, Delta("get"));
        // One list a turn that found someone waiting, however many VMs boot; none once every session was told.
        Assert.InRange(Delta("list"), 1, turns);
    }

    [Fact]
    public async Task AVmLabelledForAnotherInstance_OrWithoutOurTag_IsNeverTold()
    {
        var other = await BootingAsync(label: LabInstance.VmLabel(Guid.NewGuid()));
        var untagged = await BootingAsync(tags: ["someone-else"]);
        var ours = await BootingAsync();
        var watch = Watch();

        await TurnsUntilAsync(watch, () => _told.Any(t => t.InstanceId == ours.Id));
        for (var i = 0; i < 5; i++)
        {
            await watch.RunAsync();
        }

        Assert.DoesNotContain(_told, t => t.InstanceId == other.Id || t.InstanceId == untagged.Id);
        Assert.Single(_told);
    }

    [Fact]
    public async Task WithNothingBooting_ATurnCallsNothing()
    {
        var before = (await _emulator.InspectAsync()).Requests.Values.Sum();
        Assert.Equal(0, await Watch().RunAsync());
        Assert.Equal(before, (await _emulator.InspectAsync()).Requests.Values.Sum());
    }
}
