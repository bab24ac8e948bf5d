namespace LabManager.Core.Ports;

/// <summary>The one reconciliation entry point: the timer trigger, the Server's sweep and <c>POST /api/admin/cleanup</c> call it.</summary>
public interface IReconciler
{
    Task<ReconciliationReport> RunAsync(CancellationToken cancellationToken = default);
}

/// <summary>What one reconciliation run found and did.</summary>
public sealed record ReconciliationReport(
    DateTimeOffset StartedAt,
    TimeSpan Duration,
    int TaggedVms,
    int ActiveInstances,
    int OrphansDestroyed,
    int ExpiredEnded,
    int VanishedVms,
    int LostWorkflows)
{
    public int Actions => OrphansDestroyed + ExpiredEnded + VanishedVms + LostWorkflows;
}
