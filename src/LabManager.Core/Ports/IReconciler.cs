namespace LabManager.Core.Ports;

/// <summary>The one reconciliation entry point: the timer trigger, the Server's sweep and <c>POST /api/admin/cleanup</c> call it.</summary>
public interface IReconciler
{
    /// <summary>Runs once; null when another run (on any instance of the app) holds the lock.</summary>
    Task<ReconciliationReport?> RunAsync(CancellationToken cancellationToken = default);
}

/// <summary>The runs of reconciliation: one at a time across every instance of the app, each recorded.</summary>
public interface IReconciliationLog
{
    /// <summary>The lock, released on dispose; null while another run holds it.</summary>
    Task<IAsyncDisposable?> TryLockAsync(CancellationToken cancellationToken = default);

    Task RecordAsync(ReconciliationReport report, CancellationToken cancellationToken = default);

    /// <summary>The latest runs, newest first.</summary>
    Task<IReadOnlyList<ReconciliationReport>> RecentAsync(int count, CancellationToken cancellationToken = default);
}

/// <summary>
/// What one reconciliation run found and did. <see cref="TaggedVms"/> counts LabManager's own VMs; <see cref="ForeignVms"/> those the
/// cloud listed that are not ours (tag and label not both of our form), seen and left alone. A call that failed is in
/// <see cref="Failures"/>, and the next run tries again.
/// </summary>
public sealed record ReconciliationReport(
    DateTimeOffset StartedAt,
    TimeSpan Duration,
    int TaggedVms,
    int ActiveInstances,
    int OrphansDestroyed,
    int ExpiredEnded,
    int VanishedVms,
    int LostWorkflows,
    int StopsResent = 0,
    int ForeignVms = 0,
    IReadOnlyList<ReconciliationFailure>? Failures = null,
    int FirewallsDeleted = 0)
{
    public int Actions => OrphansDestroyed + ExpiredEnded + VanishedVms + LostWorkflows + StopsResent + FirewallsDeleted;
}

/// <summary>What reconciliation could not do this run: about which VM or instance, and why.</summary>
public sealed record ReconciliationFailure(string Subject, string Error);
