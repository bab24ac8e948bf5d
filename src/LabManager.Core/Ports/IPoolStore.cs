using LabManager.Core.Instances;
using LabManager.Core.Labs;

namespace LabManager.Core.Ports;

/// <summary>The labs' warm pools: their settings, their instances (owned by <see cref="LabPool.Owner"/> until claimed) and their figures.</summary>
public interface IPoolStore
{
    /// <summary>Sets (or, with null, removes) the lab's pool; false when the lab does not exist.</summary>
    Task<bool> SetPoolAsync(Guid labId, LabPool? pool, CancellationToken cancellationToken = default);

    /// <summary>Adds a pooled instance unless the deployment's active instances already reach <paramref name="maxGlobal"/>.</summary>
    Task<bool> TryAddAsync(LabInstance instance, int maxGlobal, CancellationToken cancellationToken = default);

    /// <summary>
    /// Retires an unclaimed pooled instance: a ready one moves to stopping, a booting one is asked to stop; either way no start claims it
    /// after. False when a learner claimed it first.
    /// </summary>
    Task<bool> RetireAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>The lab's pool as it is now, with the last hour's claims and cold starts since <paramref name="since"/>.</summary>
    Task<PoolCounts> CountsAsync(Guid labId, DateTimeOffset since, CancellationToken cancellationToken = default);
}

/// <summary>
/// A pool's figures: the ids of its <see cref="ReadyIds"/> (pooled, unclaimed) and <see cref="BootingIds"/> instances, oldest first,
/// claims and cold starts of the lab since a moment, pooled instances that ended in error since then, and how long its labs take to
/// boot. Retired ones are not counted.
/// </summary>
public sealed record PoolCounts(IReadOnlyList<Guid> ReadyIds, IReadOnlyList<Guid> BootingIds, int Claimed, int Cold, int Failed)
{
    /// <summary>The booting ones still <c>starting</c>: the only ones that may lack a session (their keeper died before starting it).</summary>
    public IReadOnlyList<Guid> StartingIds { get; init; } = [];

    /// <summary>Unclaimed pooled instances (ready or booting) of an earlier version of the lab: never claimed, to be retired. Not in the other lists.</summary>
    public IReadOnlyList<Guid> StaleIds { get; init; } = [];

    /// <summary>How long the lab's recent cold starts took to run (the 90th percentile of the last week's); null without any.</summary>
    public TimeSpan? TypicalBoot { get; init; }

    public int Ready => ReadyIds.Count;

    public int Booting => BootingIds.Count;

    /// <summary>Share of the starts served from the pool; null without starts.</summary>
    public double? HitRate => Claimed + Cold == 0 ? null : Math.Round((double)Claimed / (Claimed + Cold), 3);
}
