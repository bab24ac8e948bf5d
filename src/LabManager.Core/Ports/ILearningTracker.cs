namespace LabManager.Core.Ports;

/// <summary>Records learning progress (sessions, points) for a learner.</summary>
public interface ILearningTracker
{
    Task LabStartedAsync(Guid userId, Guid labId, Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default);

    Task LabEndedAsync(LabSessionSummary summary, CancellationToken cancellationToken = default);

    /// <summary>Stores the SHA-256 of each of the instance's own flags (exercise id → hash); storing them again changes nothing.</summary>
    Task StoreFlagsAsync(Guid instanceId, IReadOnlyDictionary<string, string> exerciseHashes, CancellationToken cancellationToken = default);
}

/// <summary>What a finished session amounted to.</summary>
public sealed record LabSessionSummary(
    Guid UserId,
    Guid LabId,
    Guid InstanceId,
    string Outcome,
    DateTimeOffset? StartedAt,
    DateTimeOffset EndedAt,
    TimeSpan VmLifetime,
    decimal? Cost);
