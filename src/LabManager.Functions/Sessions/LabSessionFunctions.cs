using LabManager.Api.Labs;
using LabManager.Core.Ports;
using LabManager.Workflows.Access;
using LabManager.Workflows.Instances;
using LabManager.Workflows.Pools;
using LabManager.Workflows.Readiness;
using LabManager.Workflows.Sessions;
using LabManager.Workflows.Vm;
using Microsoft.Azure.Functions.Worker;
using LabManager.Functions.Http;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace LabManager.Functions.Sessions;

/// <summary>The lab-session orchestrator and its activities as Durable Functions triggers, each delegating to LabManager.Workflows.</summary>
public sealed class LabSessionFunctions(
    CreateVmActivity createVm,
    GetVmActivity getVm,
    DestroyVmActivity destroyVm,
    RebootVmActivity rebootVm,
    ProbeLabActivity probeLab,
    UpdateInstanceActivity updateInstance,
    RecordProgressActivity recordProgress,
    NotifyExpiryActivity notifyExpiry,
    NotifyHealthActivity notifyHealth,
    EnsureFirewallActivity ensureFirewall,
    DeleteFirewallActivity deleteFirewall,
    CheckIdleActivity checkIdle,
    KeepPoolActivity keepPool,
    RetirePooledActivity retirePooled)
{
    [Function(nameof(LabSessionOrchestrator))]
    public static Task<LabSessionResult> LabSession([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new LabSessionOrchestrator().RunAsync(context, context.GetInput<LabSessionInput>()!);

    [Function(nameof(CreateVmActivity))]
    public Task<VmSnapshot> CreateVm([ActivityTrigger] CreateVmInput input) => createVm.ExecuteAsync(input);

    [Function(nameof(GetVmActivity))]
    public Task<VmSnapshot> GetVm([ActivityTrigger] string vmId) => getVm.ExecuteAsync(vmId);

    [Function(nameof(DestroyVmActivity))]
    public Task<bool> DestroyVm([ActivityTrigger] DestroyVmInput input) => destroyVm.ExecuteAsync(input);

    [Function(nameof(RebootVmActivity))]
    public Task<bool> RebootVm([ActivityTrigger] string vmId) => rebootVm.ExecuteAsync(vmId);

    [Function(nameof(ProbeLabActivity))]
    public Task<ProbeLabResult> ProbeLab([ActivityTrigger] ProbeLabInput input) => probeLab.ExecuteAsync(input);

    [Function(nameof(UpdateInstanceActivity))]
    public Task<bool> UpdateInstance([ActivityTrigger] InstanceChange input) => updateInstance.ExecuteAsync(input);

    [Function(nameof(RecordProgressActivity))]
    public Task<bool> RecordProgress([ActivityTrigger] ProgressInput input) => recordProgress.ExecuteAsync(input);

    [Function(nameof(NotifyExpiryActivity))]
    public Task<bool> NotifyExpiry([ActivityTrigger] ExpiryWarning input) => notifyExpiry.ExecuteAsync(input);

    [Function(nameof(NotifyHealthActivity))]
    public Task<bool> NotifyHealth([ActivityTrigger] HealthNotice input) => notifyHealth.ExecuteAsync(input);

    [Function(nameof(EnsureFirewallActivity))]
    public Task<string> EnsureFirewall([ActivityTrigger] FirewallInput input) => ensureFirewall.ExecuteAsync(input);

    [Function(nameof(DeleteFirewallActivity))]
    public Task<bool> DeleteFirewall([ActivityTrigger] string groupId) => deleteFirewall.ExecuteAsync(groupId);

    [Function(nameof(CheckIdleActivity))]
    public Task<IdleVerdict> CheckIdle([ActivityTrigger] IdleCheck input) => checkIdle.ExecuteAsync(input);

    [Function(nameof(PoolKeeperOrchestrator))]
    public static Task<bool> PoolKeeper([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new PoolKeeperOrchestrator().RunAsync(context, context.GetInput<PoolKeeperInput>()!);

    [Function(nameof(KeepPoolActivity))]
    public Task<PoolKept> KeepPool([ActivityTrigger] PoolKeeperInput input) => keepPool.ExecuteAsync(input);

    [Function(nameof(RetirePooledActivity))]
    public Task<bool> RetirePooled([ActivityTrigger] Guid instanceId) => retirePooled.ExecuteAsync(instanceId);
}

/// <summary>
/// Runs reconciliation on the schedule in the <c>SWEEP_SCHEDULE</c> app setting (every 5 minutes: <c>0 */5 * * * *</c>). It binds
/// its own durable client, so it runs on a worker that has served no HTTP request yet.
/// </summary>
public sealed class ReconciliationFunctions(IReconciler reconciler, PoolKeepers keepers, AgentWatch watch, VmWatch vms, DurableClientSlot slot)
{
    [Function("ReconciliationSweep")]
    public async Task Sweep([TimerTrigger("%SWEEP_SCHEDULE%")] TimerInfo timer, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        slot.Client ??= client;
        await reconciler.RunAsync(cancellationToken);
        // The pools' keepers, started again should one have ended.
        await keepers.EnsureAllAsync(cancellationToken);
    }

    /// <summary>Every 30 s, the Server's <c>Agent:Interval</c> default: running labs whose agent went silent are reported and reconciled.</summary>
    [Function("AgentWatch")]
    public async Task WatchAgents([TimerTrigger("*/30 * * * * *")] TimerInfo timer, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        slot.Client ??= client;
        await watch.RunAsync(cancellationToken);
    }

    /// <summary>Every 2 s, the shared VM watch: booting sessions are told when the cloud lists their VM usable (one list call per turn).</summary>
    [Function("VmWatch")]
    public async Task WatchVms([TimerTrigger("*/2 * * * * *")] TimerInfo timer, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        slot.Client ??= client;
        await vms.RunAsync(cancellationToken);
    }
}
