using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Infrastructure;
using LabManager.Testing;
using LabManager.VultrEmulator;
using LabManager.Workflows;
using LabManager.Workflows.Sessions;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LabManager.Workflows.Tests;

/// <summary>
/// The workflow running for real: the in-process Durable engine, the Vultr client over HTTP, and an emulator
/// with short (non-zero) boot delays. One per test class; tests in a class run one after another.
/// </summary>
public class LabSessionHost : IAsyncLifetime
{
    public static readonly SessionTimings FastTimings = new()
    {
        VmPollInitial = TimeSpan.FromMilliseconds(200),
        VmPollMax = TimeSpan.FromSeconds(1),
        ProvisioningDeadline = TimeSpan.FromSeconds(20),
        LabProbeInterval = TimeSpan.FromMilliseconds(200),
        LabReadyDeadline = TimeSpan.FromSeconds(20),
        RetryInterval = TimeSpan.FromMilliseconds(200),
        RebootSettle = TimeSpan.FromSeconds(1.5),
    };

    private DurableTaskTestHost? _durable;

    public VultrEmulatorApp Emulator { get; private set; } = null!;
    public InMemoryInstanceStore Store { get; } = new();
    public RecordingNotifier Notifier { get; } = new();
    public RecordingLearningTracker Tracker { get; } = new();
    public Lab Lab { get; } = TestLabs.Web();

    /// <summary>A lab whose plan Vultr does not sell in its region.</summary>
    public Lab Unsold { get; } = TestLabs.Web() with { Id = Guid.NewGuid(), Slug = "unsold", Plan = "vc2-4c-8gb", Region = "sea" };
    public MemoryLoggerProvider Logs { get; } = new();
    public DurableTaskClient Client => _durable!.Client;
    public IServiceProvider Services => _durable!.Services;

    public async Task InitializeAsync()
    {
        Emulator = await VultrEmulatorApp.StartAsync(o =>
        {
            o.PendingSeconds = 0.4;
            // Long enough for a test to stop a lab while Vultr refuses to delete its locked VM.
            o.BootSeconds = 1;
            o.InstallSeconds = 0.4;
            o.CloudInitSeconds = 0.4;
            o.RebootSeconds = 0.4;
            o.RebootOkSeconds = 0.4;
            o.DeletedVisibleSeconds = 0.5;
        });
        var settings = new Dictionary<string, string?>
        {
            ["Vultr:BaseUrl"] = Emulator.ApiBase.ToString(),
            ["Vultr:ApiKey"] = Emulator.ApiKey,
            ["Vultr:RetryDelay"] = "00:00:00.200",
            // No gateway here: the access URL is the VM's, and the workflow's probes reach the emulated VMs from 127.0.0.1, LabManager's own
            // address, admitted on each lab's web ports.
            ["Access:Mode"] = "Direct",
            ["Access:GatewayCidrs:0"] = "127.0.0.1/32",
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        // The engine's gRPC port is taken from the OS just before it binds; another test process may win it in between, so try again.
        for (var attempt = 1; _durable is null; attempt++)
        {
            try
            {
                _durable = await StartEngineAsync(configuration);
            }
            catch (IOException ex) when (attempt < 3 && ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
            }
        }
    }

    private Task<DurableTaskTestHost> StartEngineAsync(IConfiguration configuration) =>
        DurableTaskTestHost.StartAsync(
            registry => registry.AddLabWorkflows(),
            new DurableTaskTestHostOptions
            {
                Port = ProcessHost.FreePort(),
                ConfigureServices = services =>
                {
                    services.AddLogging(b => b.AddProvider(Logs).AddFilter<MemoryLoggerProvider>(null, LogLevel.Information));
                    services.AddVultrCloudProvider(configuration);
                    services.AddLabWorkflows(configuration);
                    services.AddSingleton<IInstanceStore>(Store);
                    services.AddSingleton<ILabCatalog>(new InMemoryLabCatalog(Lab, Unsold));
                    services.AddSingleton<INotifier>(Notifier);
                    services.AddSingleton<ILearningTracker>(Tracker);
                },
            });

    public async Task DisposeAsync()
    {
        if (_durable is not null)
        {
            await _durable.DisposeAsync();
        }

        await Emulator.DisposeAsync();
    }

    /// <summary>Inserts a starting instance and schedules its session, as the API will.</summary>
    public async Task<Guid> StartAsync(TimeSpan sessionLength, TimeSpan? maxLifetime = null, SessionTimings? timings = null, Guid? instanceId = null, Lab? lab = null,
        TimeSpan? idleTimeout = null, string? learnerIp = null)
    {
        var instance = new LabInstance
        {
            Id = instanceId ?? Guid.NewGuid(), UserId = Guid.NewGuid(), LabId = (lab ?? Lab).Id, CreatedAt = DateTimeOffset.UtcNow, LearnerIp = learnerIp,
        };
        await Store.AddAsync(instance);
        await Client.ScheduleNewOrchestrationInstanceAsync(
            nameof(LabSessionOrchestrator),
            new LabSessionInput
            {
                InstanceId = instance.Id,
                UserId = instance.UserId,
                LabId = instance.LabId,
                Lab = SessionLab.From(lab ?? Lab),
                SessionLength = sessionLength,
                MaxLifetime = maxLifetime ?? sessionLength * 4,
                Timings = timings ?? FastTimings,
                IdleTimeout = idleTimeout ?? TimeSpan.Zero,
            },
            new StartOrchestrationOptions(instance.Id.ToString()));
        return instance.Id;
    }

    /// <summary>Polls the store until the instance has <paramref name="status"/>; fails on a different end state.</summary>
    public async Task<LabInstance> WaitForStatusAsync(Guid instanceId, LabInstanceStatus status, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(45));
        while (true)
        {
            var instance = (await Store.GetAsync(instanceId))!;
            if (instance.Status == status)
            {
                return instance;
            }

            if (instance.Status.IsTerminal())
            {
                Assert.Fail($"Instance ended {instance.Status} ({instance.ErrorMessage}) while waiting for {status}\n{Logs.Tail()}");
            }

            if (cts.IsCancellationRequested)
            {
                Assert.Fail($"Instance still {instance.Status} after waiting for {status}\n{Logs.Tail()}");
            }

            await Task.Delay(25);
        }
    }

    /// <summary>Waits for the session to finish and returns its result.</summary>
    public async Task<LabSessionResult> WaitForEndAsync(Guid instanceId, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var state = await Client.GetInstanceAsync(instanceId.ToString(), getInputsAndOutputs: true, cts.Token);
            if (state is { IsCompleted: true })
            {
                Assert.Equal(OrchestrationRuntimeStatus.Completed, state.RuntimeStatus);
                return state.ReadOutputAs<LabSessionResult>()!;
            }

            await Task.Delay(50, cts.Token);
        }
    }

    /// <summary>The foreign VMs a real account holds next to ours (<see cref="ForeignVms.TypicalAsync"/>), two of them with this instance's label.</summary>
    public Task<IReadOnlyList<string>> ForeignVmsAsync(Guid instanceId) => ForeignVms.TypicalAsync(Emulator.ApiBase, Emulator.ApiKey, instanceId);

    /// <summary>Asserts every foreign VM is there, never rebooted or deleted by us, then removes them so the test leaves none.</summary>
    public async Task AssertUntouchedAndRemoveAsync(IReadOnlyList<string> foreign)
    {
        var inspection = await Emulator.InspectAsync();
        foreach (var id in foreign)
        {
            var vm = Assert.Single(inspection.Vms, v => v.Id == id);
            Assert.Equal(1, vm.Boot);
        }

        Assert.DoesNotContain(inspection.Deleted, d => foreign.Contains(d.Id));
        foreach (var id in foreign)
        {
            await Emulator.RemoveAsync(id);
        }
    }

    /// <summary>
    /// Asserts the emulator holds no VM of this instance (of any label generation), and returns how many were created and deleted
    /// for it, every generation together.
    /// </summary>
    public async Task<(int Created, int Deleted)> AssertNoVmLeftAsync(Guid instanceId)
    {
        bool Mine(string label) => LabInstance.TryParseVmLabel(label, out var id, out _) && id == instanceId;
        var inspection = await Emulator.InspectAsync();
        Assert.DoesNotContain(inspection.Vms, v => Mine(v.Label));
        return (inspection.Creates.Where(kv => Mine(kv.Key)).Sum(kv => kv.Value), inspection.Deletes.Where(kv => Mine(kv.Key)).Sum(kv => kv.Value));
    }
}
