namespace LabManager.Core.Ports;

/// <summary>Records learning progress (sessions, points) for a learner.</summary>
public interface ILearningTracker
{
    Task LabStartedAsync(Guid userId, Guid labId, Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default);

    Task LabEndedAsync(LabSessionSummary summary, CancellationToken cancellationToken = default);
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
