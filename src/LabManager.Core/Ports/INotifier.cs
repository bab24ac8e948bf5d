using LabManager.Core.Instances;

namespace LabManager.Core.Ports;

/// <summary>Tells the owner's browser what happened. Fire-and-forget for the workflow: never waits on a client.</summary>
public interface INotifier
{
    Task StatusChangedAsync(LabStatusEvent statusEvent, CancellationToken cancellationToken = default);

    Task NotifyAsync(Guid userId, LabNotification notification, CancellationToken cancellationToken = default);

    /// <summary>Tells every operator (a lab degraded, an agent gone silent).</summary>
    Task NotifyOperatorsAsync(LabNotification notification, CancellationToken cancellationToken = default);
}

/// <summary>A status change (or a new step of the workflow) to tell: <c>lab:status</c>.</summary>
public sealed record LabStatusEvent(
    Guid UserId,
    Guid InstanceId,
    Guid LabId,
    LabInstanceStatus Status,
    string? Message = null,
    string? AccessUrl = null,
    DateTimeOffset? ExpiresAt = null,
    string? Step = null);

/// <summary>The <c>lab:notification</c> message: <c>info</c>, <c>warning</c> or <c>error</c>.</summary>
public sealed record LabNotification(string Type, string Message, IReadOnlyDictionary<string, string>? Metadata = null);
