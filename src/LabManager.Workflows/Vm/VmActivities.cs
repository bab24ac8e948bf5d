using LabManager.Core.CloudInit;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Workflows.Sessions;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Vm;

/// <summary>
/// Input of <see cref="CreateVmActivity"/>: the instance's <paramref name="Generation"/>-th VM (one more per reset); <paramref name="Lab"/> comes
/// from the session (null: read from the catalog); the VM is made in <paramref name="FirewallGroupId"/>.
/// </summary>
public sealed record CreateVmInput(Guid InstanceId, Guid LabId, int Generation = 1, SessionLab? Lab = null, string? FirewallGroupId = null);

/// <summary>A VM as the workflow needs it: where it is, and whether it is usable.</summary>
public sealed record VmSnapshot(string VmId, bool Exists, bool Ready, string State, string MainIp, string InternalIp);

/// <summary>Input of <see cref="DestroyVmActivity"/>: the VM id, or null to find it by the label of the instance's <paramref name="Generation"/>-th VM.</summary>
public sealed record DestroyVmInput(Guid InstanceId, string? VmId, int Generation = 1);

/// <summary>Creates the lab's VM, or adopts the one already labelled for this instance.</summary>
public sealed class CreateVmActivity(
    ICloudProvider cloud, ILabCatalog catalog, IInstanceStore store, ILearningTracker tracker, IOptions<LabSessionOptions> options, IOptions<AgentOptions> agent, ILogger<CreateVmActivity> logger)
    : TaskActivity<CreateVmInput, VmSnapshot>
{
    public override Task<VmSnapshot> RunAsync(TaskActivityContext context, CreateVmInput input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<VmSnapshot> ExecuteAsync(CreateVmInput input)
    {
        var lab = input.Lab ?? (await catalog.GetAsync(input.LabId) is { } stored
            ? SessionLab.From(stored)
            : throw new PermanentFailureException($"Lab {input.LabId} does not exist"));
        var o = options.Value;
        var phoneHome = o.PhoneHomeKey is { Length: > 0 } secret && o.PhoneHomeUrl is { Length: > 0 } template
            ? PhoneHome.Url(template, secret, input.InstanceId, input.Generation)
            : null;
        var heartbeat = o.PhoneHomeKey is { Length: > 0 } key && agent.Value.Interval > TimeSpan.Zero
            && PhoneHome.HeartbeatUrl(o.HeartbeatUrl, o.PhoneHomeUrl, key, input.InstanceId, input.Generation) is { } url
            ? (url, agent.Value.Interval)
            : ((string, TimeSpan)?)null;
        var userData = CloudInitRenderer.Render(lab.Container, phoneHome, heartbeat, await FlagsAsync(input.InstanceId, lab));
        // The first request of this VM is the create alone; a retry (or a rerun after a crash) first looks for the VM an earlier one made.
        var fresh = await store.FirstCloudRequestAsync(input.InstanceId, $"vm-{input.Generation}");
        var vm = await cloud.CreateVmAsync(new VmSpec(LabInstance.VmLabel(input.InstanceId, input.Generation), lab.Region, lab.Plan, userData, [options.Value.VmTag],
            lab.Image, input.FirewallGroupId, fresh));
        logger.LogInformation("Instance {InstanceId}: VM {VmId} for lab {Lab} ({State})", input.InstanceId, vm.Id, lab.Name, vm.Describe());
        return ToSnapshot(vm);
    }

    /// <summary>
    /// The instance's own flags, by variable, their hashes stored with it first (the same at every VM of the instance, so a retry or a
    /// reset stores the same). Never logged.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, string>?> FlagsAsync(Guid instanceId, SessionLab lab)
    {
        if (lab.DynamicFlags is not { Count: > 0 } declared)
        {
            return null;
        }

        if (options.Value.PhoneHomeKey is not { Length: > 0 } secret)
        {
            throw new PermanentFailureException($"Lab {lab.Name} gives each learner a flag of their own, made from LabSessions:PhoneHomeKey, which is not set");
        }

        var flags = declared.ToDictionary(d => d.Key, d => Flags.Dynamic(secret, instanceId, d.Key));
        await tracker.StoreFlagsAsync(instanceId, flags.ToDictionary(f => f.Key, f => Flags.Hash(f.Value)));
        return declared.ToDictionary(d => d.Value, d => flags[d.Key]);
    }

    internal static VmSnapshot ToSnapshot(CloudVm vm) => new(vm.Id, true, vm.IsReady, vm.Describe(), vm.MainIp, vm.InternalIp);
}

/// <summary>Reads a VM's state; <see cref="VmSnapshot.Exists"/> is false when it is gone.</summary>
public sealed class GetVmActivity(ICloudProvider cloud) : TaskActivity<string, VmSnapshot>
{
    public override Task<VmSnapshot> RunAsync(TaskActivityContext context, string input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<VmSnapshot> ExecuteAsync(string input) =>
        await cloud.GetVmAsync(input) is { } vm ? CreateVmActivity.ToSnapshot(vm) : new VmSnapshot(input, false, false, "gone", "0.0.0.0", "");
}

/// <summary>
/// Deletes the VM: Vultr's 204 is its word that the VM is going (a locked VM is refused with a 500, and the retry policy tries again),
/// and a VM that lingered anyway is reconciliation's. A VM id comes from the session's own create answer or a checked adoption, and Vultr
/// never reuses one, so it names our VM; without one, only the VM with exactly this instance's label and our tag is looked for.
/// </summary>
public sealed class DestroyVmActivity(ICloudProvider cloud, IOptions<LabSessionOptions> options, ILogger<DestroyVmActivity> logger) : TaskActivity<DestroyVmInput, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, DestroyVmInput input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<bool> ExecuteAsync(DestroyVmInput input)
    {
        var vmId = input.VmId ?? (await cloud.FindVmByLabelAsync(LabInstance.VmLabel(input.InstanceId, input.Generation), options.Value.VmTag))?.Id;
        if (vmId is null)
        {
            logger.LogInformation("Instance {InstanceId}: no VM to destroy", input.InstanceId);
            return true;
        }

        await cloud.DeleteVmAsync(vmId);
        logger.LogInformation("Instance {InstanceId}: VM {VmId} destroyed", input.InstanceId, vmId);
        return true;
    }
}

public sealed class RebootVmActivity(ICloudProvider cloud) : TaskActivity<string, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, string input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<bool> ExecuteAsync(string input)
    {
        await cloud.RebootVmAsync(input);
        return true;
    }
}
