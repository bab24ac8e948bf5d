using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Reconciliation;

/// <summary>
/// Compares the VMs tagged for LabManager with the active instances and reports what it finds. It takes no action yet:
/// every session destroys its own VM; acting on orphans is the reconciliation sweep's next step.
/// </summary>
public sealed class Reconciler(ICloudProvider cloud, IInstanceStore instances, IOptions<LabSessionOptions> options, TimeProvider time, ILogger<Reconciler> logger)
    : IReconciler
{
    public async Task<ReconciliationReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var started = time.GetUtcNow();
        var vms = await cloud.ListVmsAsync(options.Value.VmTag, cancellationToken);
        var active = await instances.ListAsync(activeOnly: true, int.MaxValue, cancellationToken);
        var known = active.Where(i => i.CloudInstanceId is not null).Select(i => i.CloudInstanceId!).ToHashSet();
        var unmatched = vms.Count(v => !known.Contains(v.Id));
        var report = new ReconciliationReport(started, time.GetUtcNow() - started, vms.Count, active.Count, unmatched, 0);
        logger.LogInformation("Reconciliation: {Vms} tagged VMs, {Active} active instances, {Unmatched} VMs without an active instance ({Ms:F0} ms)",
            report.TaggedVms, report.ActiveInstances, report.VmsWithoutActiveInstance, report.Duration.TotalMilliseconds);
        return report;
    }
}
