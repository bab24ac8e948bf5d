using System.Diagnostics.Metrics;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Testing;
using LabManager.VultrEmulator;
using LabManager.Workflows.Reconciliation;
using LabManager.Workflows.Sessions;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Tests;

/// <summary>Each reconciliation rule against the emulator, with VMs, rows and workflows arranged to need it.</summary>
public sealed class ReconcilerTests(LabSessionHost host) : IClassFixture<LabSessionHost>
{
    private ICloudProvider Cloud => host.Services.GetRequiredService<ICloudProvider>();

    private readonly InMemoryReconciliationLog _log = new();
    private readonly IMeterFactory _meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    private Reconciler Reconciler(TimeSpan? grace = null)
    {
        // No VM watch here: a session it starts looks at its VM itself, soon.
        var options = Options.Create(new LabSessionOptions { OrphanGracePeriod = grace ?? TimeSpan.Zero, Timings = LabSessionHost.FastTimings });
        return new Reconciler(Cloud, host.Store, new InMemoryLabCatalog(host.Lab), new DurableLabSessionControl(new ServiceCollection().AddSingleton(host.Client).BuildServiceProvider(), options), host.Notifier, _log, new LabMetrics(_meters), options, TimeProvider.System,
            NullLogger<Reconciler>.Instance);
    }

    [Fact]
    public async Task Run_WhileAnotherHoldsTheLock_Skipped_OtherwiseRecorded()
    {
        await using (await _log.TryLockAsync())
        {
            Assert.Null(await Reconciler().RunAsync());
        }

        var report = await Reconciler().RunAsync();
        Assert.NotNull(report);
        Assert.Equal(report, Assert.Single(await _log.RecentAsync(10)));
    }

    private static VmSpec Spec(string label, params string[] tags) => new(label, "ewr", "vc2-1c-1gb", "#!/bin/bash\n", tags);

    /// <summary>An orphan of ours (no instance), past the first boot's lock, so Vultr lets it be deleted.</summary>
    private async Task<CloudVm> OrphanAsync()
    {
        var vm = await Cloud.CreateVmAsync(Spec(LabInstance.VmLabel(Guid.NewGuid()), "labmanager"));
        await ProcessHost.WaitUntilAsync(async () => (await host.Emulator.InspectAsync()).Vms.Any(v => v.Id == vm.Id && v.ServerStatus is not ("none" or "locked")),
            TimeSpan.FromSeconds(10), () => $"VM {vm.Id} stayed locked");
        return vm;
    }

    [Fact]
    public async Task Orphans_DestroyedAfterGrace_UntaggedAndLiveOnesSurvive()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30));
        var live = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        var orphan = await OrphanAsync();
        var foreign = await Cloud.CreateVmAsync(Spec("someone-elses-server"));

        var young = (await Reconciler(grace: TimeSpan.FromHours(1)).RunAsync())!;
        Assert.Equal(0, young.OrphansDestroyed);
        var report = (await Reconciler().RunAsync())!;

        Assert.Equal(1, report.OrphansDestroyed);
        Assert.Equal(0, report.VanishedVms + report.LostWorkflows + report.ExpiredEnded);
        var vms = (await host.Emulator.InspectAsync()).Vms.Select(v => v.Id).ToList();
        Assert.DoesNotContain(orphan.Id, vms);
        Assert.Contains(foreign.Id, vms);
        Assert.Contains(live.CloudInstanceId, vms);

        // Whatever state it is in (it may still be locked, which Vultr refuses to delete).
        await host.Emulator.RemoveAsync(foreign.Id);
        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        await host.WaitForEndAsync(id);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Theory]
    [InlineData("exact", 1)]
    [InlineData("contains", 1)]
    [InlineData("ignore", 4)]
    public async Task ForeignVms_WhateverTheFilterAnswers_SeenAndLeftAlone(string filters, int seen)
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30));
        var live = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        var foreign = await host.ForeignVmsAsync(Guid.NewGuid());
        var orphan = await OrphanAsync();
        await host.Emulator.SetFaultsAsync(new FaultSettings { Filters = filters });
        try
        {
            var report = (await Reconciler().RunAsync())!;

            Assert.Equal((1, 0, 0), (report.OrphansDestroyed, report.VanishedVms, report.LostWorkflows));
            Assert.Equal(seen, report.ForeignVms);
            Assert.Equal(2, report.TaggedVms);
            Assert.Empty(report.Failures!);
            var vms = (await host.Emulator.InspectAsync()).Vms.Select(v => v.Id).ToList();
            Assert.DoesNotContain(orphan.Id, vms);
            Assert.Contains(live.CloudInstanceId, vms);
            await host.AssertUntouchedAndRemoveAsync(foreign);
        }
        finally
        {
            await host.Emulator.SetFaultsAsync(new FaultSettings());
        }

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        await host.WaitForEndAsync(id);
        await host.AssertNoVmLeftAsync(id);
    }

    [Fact]
    public async Task OneVmCannotBeDeleted_TheRunGoesOn_ReportsIt_AndTheNextRunTriesAgain()
    {
        await host.Emulator.SetFaultsAsync(new FaultSettings { LockedRate = 1 });
        var locked = await Cloud.CreateVmAsync(Spec(LabInstance.VmLabel(Guid.NewGuid()), "labmanager"));
        await host.Emulator.SetFaultsAsync(new FaultSettings());
        var orphan = await OrphanAsync();

        var report = (await Reconciler().RunAsync())!;

        Assert.Equal(1, report.OrphansDestroyed);
        var failure = Assert.Single(report.Failures!);
        Assert.Equal($"VM {locked.Id} ({locked.Label})", failure.Subject);
        Assert.Contains("Server is currently locked", failure.Error, StringComparison.Ordinal);
        Assert.Equal(report, (await _log.RecentAsync(1))[0]);
        var vms = (await host.Emulator.InspectAsync()).Vms.Select(v => v.Id).ToList();
        Assert.Contains(locked.Id, vms);
        Assert.DoesNotContain(orphan.Id, vms);
        Assert.Single((await Reconciler().RunAsync())!.Failures!);
        // One refused delete per run: the refusal is heard at once, not retried blindly.
        Assert.Equal(2, (await host.Emulator.InspectAsync()).Requests["refused_locked"]);
        await host.Emulator.RemoveAsync(locked.Id);
    }

    [Fact]
    public async Task VmDeletedOutside_InstanceEndsInErrorAndUserIsTold()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30));
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        await Cloud.DeleteVmAsync(running.CloudInstanceId!);
        // Vultr keeps listing a deleted VM for a moment; the run after that sees it gone.
        await ProcessHost.WaitUntilAsync(async () => (await Cloud.GetVmAsync(running.CloudInstanceId!)) is null, TimeSpan.FromSeconds(10), () => "the deleted VM stayed listed");

        var report = (await Reconciler().RunAsync())!;

        Assert.Equal(1, report.VanishedVms);
        var ended = (await host.Store.GetAsync(id))!;
        Assert.Equal(LabInstanceStatus.Error, ended.Status);
        Assert.Equal("The lab's VM was deleted outside LabManager", ended.ErrorMessage);
        Assert.Contains(host.Notifier.NotificationsOf(running.UserId), n => n.Type == "error" && n.Message == ended.ErrorMessage);
        await host.WaitForEndAsync(id);
        Assert.Equal(LabInstanceStatus.Error, (await host.Store.GetAsync(id))!.Status);
        await host.AssertNoVmLeftAsync(id);
    }

    [Fact]
    public async Task ExpiredButRunning_EndedAsExpired()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30));
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        await host.Store.UpdateAsync(running with { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-5) });

        var report = (await Reconciler().RunAsync())!;

        Assert.Equal(1, report.ExpiredEnded);
        Assert.Equal(LabInstanceStatus.Expired, (await host.WaitForEndAsync(id)).Status);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task WorkflowLost_VmDestroyedAndInstanceInError()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30));
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        await host.Client.TerminateInstanceAsync(id.ToString());
        await host.Client.WaitForInstanceCompletionAsync(id.ToString());

        var report = (await Reconciler().RunAsync())!;

        Assert.Equal(1, report.LostWorkflows);
        var ended = (await host.Store.GetAsync(id))!;
        Assert.Equal(LabInstanceStatus.Error, ended.Status);
        Assert.Equal("The lab's workflow was lost; its VM was destroyed", ended.ErrorMessage);
        Assert.DoesNotContain((await host.Emulator.InspectAsync()).Vms, v => v.Id == running.CloudInstanceId);
    }

    [Fact]
    public async Task Run_CopiesVmStateIntoInstances_AndFeedsTheMeters()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30));
        await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        await OrphanAsync();
        var measured = new List<(string Instrument, double Value, string? Tag)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == _meters)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => measured.Add((i.Name, v, tags.Length > 0 ? tags[0].Value?.ToString() : null)));
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => measured.Add((i.Name, v, null)));
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => measured.Add((i.Name, v, null)));
        listener.Start();

        var report = (await Reconciler().RunAsync())!;
        listener.RecordObservableInstruments();

        var synced = (await host.Store.GetAsync(id))!;
        Assert.Equal("active/running/ok", synced.VmStatus);
        Assert.NotNull(synced.VmCheckedAt);
        Assert.Contains(("labmanager.reconciliation.orphans_destroyed", (double)report.OrphansDestroyed, null), measured);
        Assert.Contains(measured, m => m.Instrument == "labmanager.reconciliation.duration" && Math.Abs(m.Value - report.Duration.TotalSeconds) < 1e-9);
        var running = (await host.Store.ListAsync(activeOnly: true, 100)).Count(i => i.Status == LabInstanceStatus.Running);
        Assert.Contains(("labmanager.instances.active", (double)running, "running"), measured);
        Assert.Contains(measured, m => m.Instrument == "labmanager.vms" && m.Tag == "active/running/ok" && m.Value >= 1);

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        await host.WaitForEndAsync(id);
    }

    [Fact]
    public async Task StartingWithoutWorkflowOrVm_OnceOlderThanTheGrace_ItsSessionIsStartedAndTheLabRuns()
    {
        // As if the process died between admitting the start and scheduling its session.
        var stranded = new LabInstance { Id = Guid.NewGuid(), UserId = Guid.NewGuid(), LabId = host.Lab.Id, CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-3) };
        await host.Store.AddAsync(stranded);

        Assert.Equal(0, (await Reconciler(grace: TimeSpan.FromMinutes(5)).RunAsync())!.LostWorkflows);
        Assert.Equal(LabInstanceStatus.Starting, (await host.Store.GetAsync(stranded.Id))!.Status);
        var report = (await Reconciler(grace: TimeSpan.FromMinutes(1)).RunAsync())!;

        Assert.Equal(1, report.LostWorkflows);
        await host.WaitForStatusAsync(stranded.Id, LabInstanceStatus.Running);
        await host.Client.RaiseEventAsync(stranded.Id.ToString(), LabEvents.Stop, new StopRequest());
        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(stranded.Id)).Status);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(stranded.Id));
    }

    [Fact]
    public async Task StartingWithoutWorkflowOrVm_StopAskedFor_EndedStoppedWithoutAVm()
    {
        var stranded = new LabInstance { Id = Guid.NewGuid(), UserId = Guid.NewGuid(), LabId = host.Lab.Id, CreatedAt = DateTimeOffset.UtcNow.AddMinutes(-3) };
        await host.Store.AddAsync(stranded);
        await host.Store.RequestStopAsync(stranded.Id, DateTimeOffset.UtcNow.AddMinutes(-2));

        var report = (await Reconciler(grace: TimeSpan.FromMinutes(1)).RunAsync())!;

        Assert.Equal((1, 0), (report.LostWorkflows, report.StopsResent));
        Assert.Equal(LabInstanceStatus.Stopped, (await host.Store.GetAsync(stranded.Id))!.Status);
        Assert.Null(await host.Client.GetInstanceAsync(stranded.Id.ToString()));
        Assert.Equal((0, 0), await host.AssertNoVmLeftAsync(stranded.Id));
    }

    [Fact]
    public async Task StopAskedForLongAgo_StillRunning_RaisedAgainAndTheLabEnds()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30));
        await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        // The stop was recorded, but its event never reached the workflow.
        await host.Store.RequestStopAsync(id, DateTimeOffset.UtcNow.AddMinutes(-3));

        Assert.Equal(1, (await Reconciler().RunAsync())!.StopsResent);

        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id)).Status);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }
}
