using LabManager.Core.Instances;
using LabManager.Testing;
using LabManager.VultrEmulator;
using LabManager.Workflows.Sessions;

namespace LabManager.Workflows.Tests;

/// <summary>The workflow against an emulator that misbehaves. Each test sets its faults and clears them after.</summary>
public sealed class LabSessionFaultTests(LabSessionHost host) : IClassFixture<LabSessionHost>, IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => host.Emulator.SetFaultsAsync(new FaultSettings());

    [Fact]
    public async Task StopRecordedButItsEventLost_SessionWindsDownBeforeRunning_VmDestroyed()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(5));
        // Once its VM is made (the VM takes ~2 s to boot), the stop is on the instance, but its event never reaches the workflow (as when a
        // crash loses it). A stop recorded before the VM is made ends the session with none.
        await host.WaitForStatusAsync(id, LabInstanceStatus.Provisioning);
        await host.Store.RequestStopAsync(id, DateTimeOffset.UtcNow);

        var result = await host.WaitForEndAsync(id);

        Assert.Equal(LabInstanceStatus.Stopped, result.Status);
        Assert.DoesNotContain(LabInstanceStatus.Running, host.Notifier.StatusesOf(id).Select(s => s.Status));
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task ProvisioningDeadline_VmStuckBooting_DestroysVmAndEndsInError()
    {
        await host.Emulator.SetFaultsAsync(new FaultSettings { StuckRate = 1 });
        var timings = LabSessionHost.FastTimings with { ProvisioningDeadline = TimeSpan.FromSeconds(3) };

        var id = await host.StartAsync(TimeSpan.FromMinutes(5), timings: timings);
        var result = await host.WaitForEndAsync(id);

        Assert.Equal(LabInstanceStatus.Error, result.Status);
        Assert.True(result.VmDestroyed);
        var instance = (await host.Store.GetAsync(id))!;
        Assert.Equal(LabInstanceStatus.Error, instance.Status);
        Assert.Contains("not ready within", instance.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("installingbooting", instance.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
        Assert.Equal(0, host.Tracker.StartsOf(id));
        var error = Assert.Single(host.Notifier.NotificationsOf(instance.UserId));
        Assert.Equal("error", error.Type);
        Assert.Equal(instance.ErrorMessage, error.Message);
        Assert.Equal("error", Assert.Single(host.Tracker.EndsOf(id)).Outcome);
    }

    [Fact]
    public async Task CreateAnswerLost_ExactlyOneVmAdoptedAndDestroyed()
    {
        await host.Emulator.SetFaultsAsync(new FaultSettings { LoseCreateAnswerRate = 1 });

        var id = await host.StartAsync(TimeSpan.FromSeconds(2));
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        Assert.Single((await host.Emulator.InspectAsync()).Vms, v => v.Label == LabInstance.VmLabel(id) && v.Id == running.CloudInstanceId);

        Assert.Equal(LabInstanceStatus.Expired, (await host.WaitForEndAsync(id)).Status);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Theory]
    [InlineData("contains")]
    [InlineData("ignore")]
    public async Task CreateAnswerLost_FiltersNotApplied_OnlyOurVmIsAdopted_ForeignOnesUntouched(string filters)
    {
        var id = Guid.NewGuid();
        // Foreign VMs carrying this very instance's label, but not our tag, are in the account before it starts.
        var foreign = await host.ForeignVmsAsync(id);
        await host.Emulator.SetFaultsAsync(new FaultSettings { LoseCreateAnswerRate = 1, Filters = filters });

        await host.StartAsync(TimeSpan.FromSeconds(2), instanceId: id);
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        Assert.DoesNotContain(running.CloudInstanceId, foreign);
        Assert.Equal(LabInstanceStatus.Expired, (await host.WaitForEndAsync(id)).Status);
        var inspection = await host.Emulator.InspectAsync();
        // Ours was made once (the foreign ones were made with the same label, outside LabManager) and destroyed.
        Assert.Equal(3, inspection.Creates[LabInstance.VmLabel(id)]);
        Assert.Contains(inspection.Deleted, d => d.Id == running.CloudInstanceId);
        await host.AssertUntouchedAndRemoveAsync(foreign);
        await host.AssertNoVmLeftAsync(id);
    }

    [Fact]
    public async Task Stop_WhileTheVmIsLocked_DestroyRetriedUntilVultrAllowsIt()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(5));
        var booting = await host.WaitForStatusAsync(id, LabInstanceStatus.Provisioning);
        await ProcessHost.WaitUntilAsync(async () => (await host.Emulator.InspectAsync()).Vms.Any(v => v.Id == booting.CloudInstanceId && v.ServerStatus == "locked"),
            TimeSpan.FromSeconds(10), () => "the VM never showed locked");
        var refusedBefore = (await host.Emulator.InspectAsync()).Requests.GetValueOrDefault("refused_locked");

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());

        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id)).Status);
        Assert.True((await host.Emulator.InspectAsync()).Requests["refused_locked"] > refusedBefore);
        Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public async Task Reset_FiltersIgnored_TheDyingVmIsNeverTakenForTheNewOne()
    {
        var id = Guid.NewGuid();
        var foreign = await host.ForeignVmsAsync(id);
        await host.StartAsync(TimeSpan.FromMinutes(5), instanceId: id);
        var first = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);
        // Deleted VMs stay listed for half a second, the filters answer everything, and the new VM's create answer is lost.
        await host.Emulator.SetFaultsAsync(new FaultSettings { Filters = "ignore", LoseCreateAnswerRate = 1 });

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Reset, true);
        await host.WaitForStatusAsync(id, LabInstanceStatus.Provisioning);
        var second = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        Assert.NotEqual(first.CloudInstanceId, second.CloudInstanceId);
        var inspection = await host.Emulator.InspectAsync();
        Assert.Equal(LabInstance.VmLabel(id, 2), inspection.Vms.Single(v => v.Id == second.CloudInstanceId).Label);
        Assert.Contains(inspection.Deleted, d => d.Id == first.CloudInstanceId);
        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest());
        await host.WaitForEndAsync(id);
        await host.AssertUntouchedAndRemoveAsync(foreign);
        var creates = (await host.Emulator.InspectAsync()).Creates;
        Assert.Equal(1, creates[LabInstance.VmLabel(id, 2)]);
        await host.AssertNoVmLeftAsync(id);
    }

    [Fact]
    public async Task Create_PlanNotSoldInTheRegion_LabCouldNotBeStarted_WithVultrsReason()
    {
        var creates = (await host.Emulator.InspectAsync()).Requests.GetValueOrDefault("create");
        var id = await host.StartAsync(TimeSpan.FromMinutes(5), lab: host.Unsold);

        Assert.Equal(LabInstanceStatus.Error, (await host.WaitForEndAsync(id)).Status);
        // A refusal is not retried: one create, and the reason at once.
        Assert.Equal(creates + 1, (await host.Emulator.InspectAsync()).Requests["create"]);
        var instance = (await host.Store.GetAsync(id))!;
        Assert.Equal(
            "Creating the VM failed: Vultr create instance (plan vc2-4c-8gb in sea, os 1743) answered 400: Invalid plan chosen.",
            instance.ErrorMessage);
        Assert.Contains(host.Notifier.StatusesOf(id), s => s.Status == LabInstanceStatus.Stopping && s.Message == "The lab could not be started");
        Assert.Equal((0, 0), await host.AssertNoVmLeftAsync(id));
    }

    [Fact]
    public Task RateLimitStorm_SessionsStillComplete() =>
        ThreeSessionsCompleteUnderAsync(new FaultSettings { RateLimitPerSecond = 2 }, "answered_429");

    [Fact]
    public Task ServerErrors_TwentyPercent_SessionsStillComplete() =>
        // Seeded: the second call is struck (three sessions make about 23), where unseeded draws would strike none once in ~170 runs.
        ThreeSessionsCompleteUnderAsync(new FaultSettings { ErrorRate = 0.2, Seed = 1 }, "answered_5xx");

    /// <summary>Runs three short sessions under the faults; each must expire normally and leave no VM.</summary>
    private async Task ThreeSessionsCompleteUnderAsync(FaultSettings faults, string faultCounter)
    {
        var before = (await host.Emulator.InspectAsync()).Requests.GetValueOrDefault(faultCounter);
        await host.Emulator.SetFaultsAsync(faults);

        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await host.StartAsync(TimeSpan.FromSeconds(2)));
        }

        foreach (var id in ids)
        {
            Assert.Equal(LabInstanceStatus.Expired, (await host.WaitForEndAsync(id, TimeSpan.FromSeconds(90))).Status);
            Assert.Equal((1, 1), await host.AssertNoVmLeftAsync(id));
        }

        Assert.True((await host.Emulator.InspectAsync()).Requests.GetValueOrDefault(faultCounter) > before, $"the emulator never {faultCounter}");
    }
}
