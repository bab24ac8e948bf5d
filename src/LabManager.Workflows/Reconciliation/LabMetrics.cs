using System.Diagnostics.Metrics;
using LabManager.Core.Instances;
using LabManager.Core.Ports;

namespace LabManager.Workflows.Reconciliation;

/// <summary>
/// The <c>LabManager</c> meter. Reconciliation feeds it: the gauges show what the latest run saw (active instances by
/// status, tagged VMs by state), the counter adds the orphans it destroyed, the histogram its duration.
/// </summary>
public sealed class LabMetrics
{
    public const string MeterName = "LabManager";

    private readonly Counter<long> _orphansDestroyed;
    private readonly Histogram<double> _duration;
    private volatile IReadOnlyDictionary<string, int> _instances = new Dictionary<string, int>();
    private volatile IReadOnlyDictionary<string, int> _vms = new Dictionary<string, int>();

    public LabMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _orphansDestroyed = meter.CreateCounter<long>("labmanager.reconciliation.orphans_destroyed", "{vm}", "Orphan VMs destroyed by reconciliation");
        _duration = meter.CreateHistogram<double>("labmanager.reconciliation.duration", "s", "How long a reconciliation run took");
        meter.CreateObservableGauge("labmanager.instances.active", () => Measure(_instances, "status"), "{instance}",
            "Active lab instances by status, as the latest reconciliation saw them");
        meter.CreateObservableGauge("labmanager.vms", () => Measure(_vms, "state"), "{vm}",
            "VMs tagged for LabManager by state (status/power/server), as the latest reconciliation saw them");
    }

    public void Record(ReconciliationReport report, IEnumerable<LabInstance> active, IEnumerable<CloudVm> vms)
    {
        _orphansDestroyed.Add(report.OrphansDestroyed);
        _duration.Record(report.Duration.TotalSeconds);
        // Every active status is reported, zero included, so a gauge falls back to 0 instead of keeping its last value.
        _instances = Enum.GetValues<LabInstanceStatus>().Where(s => s.IsActive()).ToDictionary(s => s.ToWire(), s => active.Count(i => i.Status == s));
        _vms = vms.GroupBy(v => v.Describe()).ToDictionary(g => g.Key, g => g.Count());
    }

    private static IEnumerable<Measurement<int>> Measure(IReadOnlyDictionary<string, int> counts, string tag) =>
        counts.Select(kv => new Measurement<int>(kv.Value, new KeyValuePair<string, object?>(tag, kv.Key)));
}
