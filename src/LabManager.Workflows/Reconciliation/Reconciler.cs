using LabManager.Core.Access;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Workflows.Instances;
using LabManager.Workflows.Sessions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Reconciliation;

/// <summary>
/// Compares LabManager's VMs with the instances and their workflows, and repairs what disagrees: destroys orphan VMs (no live
/// instance, or not the instance's current VM) older than the grace period; ends running instances past their expiry; ends in error
/// instances whose VM vanished or whose workflow was lost (destroying the VM). A VM is ours only if it carries our tag and a label of
/// our form, checked here whatever the cloud's filter answered; any other VM is counted and left alone. A stop asked for over a
/// minute ago whose instance is still active is raised again. One failing VM or call never ends the run: it is reported, and the
/// next run tries again. Each VM's state is copied into its instance's record, and the run feeds <see cref="LabMetrics"/>.
/// </summary>
public sealed class Reconciler(
    ICloudProvider cloud,
    IInstanceStore instances,
    ILabCatalog catalog,
    ILabSessionControl sessions,
    INotifier notifier,
    IReconciliationLog log,
    LabMetrics metrics,
    IOptions<LabSessionOptions> options,
    TimeProvider time,
    ILogger<Reconciler> logger) : IReconciler
{
    private static readonly TimeSpan ExpirySlack = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan StopSlack = TimeSpan.FromMinutes(1);

    public async Task<ReconciliationReport?> RunAsync(CancellationToken cancellationToken = default)
    {
        await using var lease = await log.TryLockAsync(cancellationToken);
        if (lease is null)
        {
            logger.LogInformation("Reconciliation skipped: another run is in progress");
            return null;
        }

        var started = time.GetUtcNow();
        var tag = options.Value.VmTag;
        var failures = new List<ReconciliationFailure>();
        int orphans = 0, expired = 0, vanished = 0, lost = 0, resent = 0, firewalls = 0;

        // Whatever the cloud's filter answered, only VMs with our tag and a label of our form are ours to act on.
        IReadOnlyList<CloudVm>? listed = null;
        try
        {
            listed = await cloud.ListVmsAsync(tag, cancellationToken);
        }
        catch (CloudProviderException ex)
        {
            failures.Add(new ReconciliationFailure("list instances", ex.Message));
            logger.LogError("Reconciliation could not list the VMs ({Error}); VM checks wait for the next run", ex.Message);
        }

        var vms = listed?.Where(vm => vm.IsOurs(tag)).ToList() ?? [];
        var foreign = listed?.Where(vm => !vm.IsOurs(tag)).ToList() ?? [];
        if (foreign.Count > 0)
        {
            logger.LogInformation("Reconciliation left alone {Count} VM(s) that are not LabManager's, e.g. {Examples}", foreign.Count,
                string.Join(", ", foreign.Take(5).Select(v => $"{v.Id} ({v.Label}, tags [{string.Join(", ", v.Tags)}])")));
        }

        var withVm = new HashSet<Guid>();
        var repaired = new HashSet<Guid>();
        foreach (var vm in vms)
        {
            await IsolatedAsync($"VM {vm.Id} ({vm.Label})", failures, async () =>
            {
                var instance = LabInstance.TryParseVmLabel(vm.Label, out var id, out _) ? await instances.GetAsync(id, cancellationToken) : null;
                // Not the instance's current VM: a reset's leftover, or one made just now whose id the instance does not carry yet.
                var current = instance is { Status: var status } && !status.IsTerminal() && (instance.CloudInstanceId is null || instance.CloudInstanceId == vm.Id);
                if (!current)
                {
                    if (time.GetUtcNow() - vm.DateCreated >= options.Value.OrphanGracePeriod)
                    {
                        await cloud.DeleteVmAsync(vm.Id, cancellationToken);
                        logger.LogWarning("Reconciliation destroyed orphan VM {VmId} ({Label}): {Why}", vm.Id, vm.Label,
                            instance is null ? "no instance" : instance.Status.IsTerminal() ? $"instance {instance.Status.ToWire()}" : $"instance runs on {instance.CloudInstanceId}");
                        orphans++;
                    }

                    return;
                }

                withVm.Add(instance!.Id);
                if (vm.Describe() is var vmStatus && instance.VmStatus != vmStatus)
                {
                    await instances.SetVmStatusAsync(instance.Id, vmStatus, time.GetUtcNow(), cancellationToken);
                }

                if (await WorkflowLostAsync(instance, cancellationToken))
                {
                    await cloud.DeleteVmAsync(vm.Id, cancellationToken);
                    await EndInErrorAsync(instance, "The lab's workflow was lost; its VM was destroyed", cancellationToken);
                    repaired.Add(instance.Id);
                    lost++;
                }
                else if (instance.Status == LabInstanceStatus.Running && instance.ExpiresAt < time.GetUtcNow() - ExpirySlack)
                {
                    await sessions.StopAsync(instance.Id, StopRequest.Expired, cancellationToken);
                    logger.LogWarning("Reconciliation ended instance {InstanceId}, expired at {ExpiresAt:o}", instance.Id, instance.ExpiresAt);
                    expired++;
                }
            });
        }

        var active = await instances.ListAsync(activeOnly: true, int.MaxValue, cancellationToken);
        // Without the list, "no VM seen" says nothing: the rules that rest on it wait for a run that could list.
        foreach (var instance in listed is null ? [] : active.Where(i => !withVm.Contains(i.Id)))
        {
            await IsolatedAsync($"instance {instance.Id}", failures, async () =>
            {
                if (instance.Status == LabInstanceStatus.Running)
                {
                    // Its VM is not listed any more: it was deleted outside LabManager.
                    await EndInErrorAsync(instance, "The lab's VM was deleted outside LabManager", cancellationToken);
                    await sessions.StopAsync(instance.Id, "reconciliation", cancellationToken);
                    repaired.Add(instance.Id);
                    vanished++;
                }
                else if (time.GetUtcNow() - instance.CreatedAt >= options.Value.OrphanGracePeriod && await WorkflowLostAsync(instance, cancellationToken))
                {
                    // No VM and no workflow: the process died between admitting the start and scheduling its session (nothing else
                    // leaves an instance so). The learner asked for the lab: start its session now, unless they asked to stop it since;
                    // a session that ran and ended without a VM is over. Instances between two VMs (a reset) keep their live workflow.
                    await RepairLostStartAsync(instance, cancellationToken);
                    repaired.Add(instance.Id);
                    lost++;
                }
            });
        }

        // A stop asked for a while ago whose instance is still active: its event may have been lost (e.g. with a crash), so raise it again.
        foreach (var instance in active.Where(i => i.StopRequestedAt < time.GetUtcNow() - StopSlack && i.Status != LabInstanceStatus.Stopping && !repaired.Contains(i.Id)))
        {
            await IsolatedAsync($"instance {instance.Id}", failures, async () =>
            {
                await sessions.StopAsync(instance.Id, "user", cancellationToken);
                logger.LogWarning("Reconciliation raised Stop again for instance {InstanceId} ({Status}), asked for at {At:o}", instance.Id, instance.Status.ToWire(), instance.StopRequestedAt);
                resent++;
            });
        }

        // Our firewall groups whose instance ended (or never was), once no VM is in them; another's group is never looked at twice.
        IReadOnlyList<CloudFirewall> groups = [];
        try
        {
            groups = await cloud.ListFirewallsAsync(cancellationToken);
        }
        catch (CloudProviderException ex)
        {
            failures.Add(new ReconciliationFailure("list firewall groups", ex.Message));
        }

        foreach (var group in groups)
        {
            if (!LabFirewall.TryParse(group.Description, tag, out var id) || group.InstanceCount > 0
                || time.GetUtcNow() - group.DateCreated < options.Value.OrphanGracePeriod)
            {
                continue;
            }

            await IsolatedAsync($"firewall group {group.Id} ({group.Description})", failures, async () =>
            {
                if (await instances.GetAsync(id, cancellationToken) is { Status: var status } && !status.IsTerminal())
                {
                    return;
                }

                await cloud.DeleteFirewallAsync(group.Id, cancellationToken);
                logger.LogWarning("Reconciliation deleted orphan firewall group {GroupId} ({Description})", group.Id, group.Description);
                firewalls++;
            });
        }

        var report = new ReconciliationReport(started, time.GetUtcNow() - started, vms.Count, active.Count, orphans, expired, vanished, lost, resent, foreign.Count, failures, firewalls);
        logger.LogInformation(
            "Reconciliation: {Vms} LabManager VMs ({Foreign} others left alone), {Active} active instances; destroyed {Orphans} orphans and {Firewalls} orphan firewall groups, ended {Expired} expired, {Vanished} with a vanished VM, {Lost} with a lost workflow, raised {Resent} stops again; {Failures} failures ({Ms:F0} ms)",
            report.TaggedVms, foreign.Count, report.ActiveInstances, orphans, firewalls, expired, vanished, lost, resent, failures.Count, report.Duration.TotalMilliseconds);
        await log.RecordAsync(report, cancellationToken);
        metrics.Record(report, active, vms);
        return report;
    }

    /// <summary>Runs one VM's or instance's repair; a failure is noted and the run goes on.</summary>
    private async Task IsolatedAsync(string subject, List<ReconciliationFailure> failures, Func<Task> repair)
    {
        try
        {
            await repair();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            failures.Add(new ReconciliationFailure(subject, ex.Message));
            logger.LogWarning("Reconciliation could not repair {Subject} ({Error}); the next run tries again", subject, ex.Message);
        }
    }

    /// <summary>An instance admitted whose session never started: started now, or ended as its learner meant it to.</summary>
    private async Task RepairLostStartAsync(LabInstance instance, CancellationToken cancellationToken)
    {
        if (instance.Status == LabInstanceStatus.Starting && instance.StopRequestedAt is not null)
        {
            var now = time.GetUtcNow();
            var stopped = instance.MoveTo(LabInstanceStatus.Stopping, now).MoveTo(LabInstanceStatus.Stopped, now);
            await instances.UpdateAsync(stopped, cancellationToken);
            await notifier.StatusChangedAsync(new LabStatusEvent(stopped.UserId, stopped.Id, stopped.LabId, stopped.Status, "Stopped by user"), cancellationToken);
            logger.LogWarning("Reconciliation ended instance {InstanceId}, stopped before its session ever started", instance.Id);
        }
        else if (instance.Status == LabInstanceStatus.Starting && await catalog.GetAsync(instance.LabId, instance.LabVersion, cancellationToken) is { } lab)
        {
            // A pool's keeper that died between adding its instance and starting its session: a pooled session, as it meant.
            // A learner's timeoutOverride went with the request that was lost: the lab's own length.
            await (instance.UserId == Core.Labs.LabPool.Owner
                ? sessions.StartPooledAsync(instance.Id, lab, cancellationToken)
                : sessions.StartAsync(instance.Id, instance.UserId, lab, lab.TimeoutDuration, cancellationToken));
            logger.LogWarning("Reconciliation started the session of instance {InstanceId}, admitted but never scheduled", instance.Id);
        }
        else
        {
            await EndInErrorAsync(instance, "The lab's workflow was lost before its VM was made", cancellationToken);
        }
    }

    private async Task EndInErrorAsync(LabInstance instance, string reason, CancellationToken cancellationToken)
    {
        var ended = instance.MoveTo(LabInstanceStatus.Error, time.GetUtcNow()) with { ErrorMessage = reason };
        await instances.UpdateAsync(ended, cancellationToken);
        await notifier.StatusChangedAsync(new LabStatusEvent(ended.UserId, ended.Id, ended.LabId, ended.Status, reason), cancellationToken);
        await notifier.NotifyAsync(ended.UserId, new LabNotification("error", reason, UpdateInstanceActivity.Metadata(ended)), cancellationToken);
        logger.LogWarning("Reconciliation ended instance {InstanceId} in error: {Reason}", ended.Id, reason);
    }

    private async Task<bool> WorkflowLostAsync(LabInstance instance, CancellationToken cancellationToken) =>
        await sessions.GetProgressAsync(instance.Id, cancellationToken) is not { RuntimeStatus: not ("Failed" or "Terminated" or "Completed") };
}
