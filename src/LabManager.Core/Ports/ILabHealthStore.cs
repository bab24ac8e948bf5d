using LabManager.Core.Instances;

namespace LabManager.Core.Ports;

/// <summary>What the labs' agents report, stored bounded: the latest heartbeat of each instance and one point a minute for an hour.</summary>
public interface ILabHealthStore
{
    /// <summary>
    /// Stores a heartbeat of the instance's <paramref name="generation"/>-th VM, unless the previous one came less than
    /// <paramref name="minInterval"/> ago (then nothing is stored and null is answered).
    /// </summary>
    Task<HeartbeatRecorded?> RecordAsync(Guid instanceId, int generation, HeartbeatBody body, DateTimeOffset now, TimeSpan minInterval, CancellationToken cancellationToken = default);

    /// <summary>The latest heartbeat and the last hour's points; null before the first.</summary>
    Task<InstanceHealth?> GetAsync(Guid instanceId, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>The log tail of each container (as text: <see cref="LabAgent.Text"/>) and when the latest heartbeat carried them; null before the first.</summary>
    Task<(DateTimeOffset ReceivedAt, IReadOnlyDictionary<string, string> Tails)?> LogsAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>The latest heartbeat's summary of each of these instances that has one.</summary>
    Task<IReadOnlyDictionary<Guid, HealthSummary>> SummariesAsync(IReadOnlyCollection<Guid> instanceIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// Running instances whose agent spoke once but nothing since <paramref name="before"/> (nor did the instance change), not reported
    /// yet: each is marked reported at <paramref name="now"/>, so only one process tells of it.
    /// </summary>
    Task<IReadOnlyList<Guid>> TakeSilentAsync(DateTimeOffset before, DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>A stored heartbeat: what it read, and the instance's health before it (the same VM and boot, or none).</summary>
public sealed record HeartbeatRecorded(HeartbeatReading Reading, bool DegradedBefore, long? NetTotalBefore);

/// <summary><c>GET /api/labs/instances/{id}/stats</c>: the latest heartbeat and the hour's series.</summary>
public sealed record InstanceHealth(DateTimeOffset ReceivedAt, int Generation, int Boot, bool Degraded, bool Silent, IReadOnlyList<ContainerHealth> Containers, IReadOnlyList<StatsPoint> Series);

/// <summary>One minute of the series, summed over the containers.</summary>
public sealed record StatsPoint(DateTimeOffset Minute, double? CpuPercent, long? MemoryUsed, long? MemoryLimit, long? NetIn, long? NetOut);

/// <summary>What the operator table shows of an instance's agent.</summary>
public sealed record HealthSummary(DateTimeOffset ReceivedAt, bool Degraded, bool Silent, double? CpuPercent, long? MemoryUsed, long? MemoryLimit);
