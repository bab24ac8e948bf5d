using LabManager.Core.CloudInit;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Vm;

/// <summary>Input of <see cref="CreateVmActivity"/>.</summary>
public sealed record CreateVmInput(Guid InstanceId, Guid LabId);

/// <summary>A VM as the workflow needs it: where it is, and whether it is usable.</summary>
public sealed record VmSnapshot(string VmId, bool Exists, bool Ready, string State, string MainIp, string InternalIp);

/// <summary>Input of <see cref="DestroyVmActivity"/>: the VM id, or null to find it by the instance's label.</summary>
public sealed record DestroyVmInput(Guid InstanceId, string? VmId);

/// <summary>Creates the lab's VM, or adopts the one already labelled for this instance.</summary>
public sealed class CreateVmActivity(ICloudProvider cloud, ILabCatalog catalog, IOptions<LabSessionOptions> options, ILogger<CreateVmActivity> logger)
    : TaskActivity<CreateVmInput, VmSnapshot>
{
    public override Task<VmSnapshot> RunAsync(TaskActivityContext context, CreateVmInput input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<VmSnapshot> ExecuteAsync(CreateVmInput input)
    {
        var lab = await catalog.GetAsync(input.LabId) ?? throw new InvalidOperationException($"Lab {input.LabId} does not exist");
        var phoneHome = options.Value.PhoneHomeSecret is { Length: > 0 } secret
            ? options.Value.PhoneHomeUrl?.Replace("{instanceId}", input.InstanceId.ToString(), StringComparison.Ordinal)
                .Replace("{key}", PhoneHome.Key(secret, input.InstanceId), StringComparison.Ordinal)
            : null;
        var userData = CloudInitRenderer.Render(lab.ContainerConfig, phoneHome);
        var vm = await cloud.CreateVmAsync(new VmSpec(LabInstance.VmLabel(input.InstanceId), lab.Region, lab.Plan, userData, [options.Value.VmTag]));
        logger.LogInformation("Instance {InstanceId}: VM {VmId} for lab {Lab} ({State})", input.InstanceId, vm.Id, lab.Name, vm.Describe());
        return ToSnapshot(vm);
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

/// <summary>Deletes the VM and confirms it is gone; throws while it is not, so the retry policy tries again.</summary>
public sealed class DestroyVmActivity(ICloudProvider cloud, ILogger<DestroyVmActivity> logger) : TaskActivity<DestroyVmInput, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, DestroyVmInput input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<bool> ExecuteAsync(DestroyVmInput input)
    {
        var vmId = input.VmId ?? (await cloud.FindVmByLabelAsync(LabInstance.VmLabel(input.InstanceId)))?.Id;
        if (vmId is null)
        {
            logger.LogInformation("Instance {InstanceId}: no VM to destroy", input.InstanceId);
            return true;
        }

        await cloud.DeleteVmAsync(vmId);
        if (await cloud.GetVmAsync(vmId) is { } still)
        {
            throw new InvalidOperationException($"VM {vmId} still exists after delete ({still.Describe()})");
        }

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

public sealed class ReinstallVmActivity(ICloudProvider cloud) : TaskActivity<string, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, string input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<bool> ExecuteAsync(string input)
    {
        await cloud.ReinstallVmAsync(input);
        return true;
    }
}
