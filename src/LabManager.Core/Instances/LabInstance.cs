namespace LabManager.Core.Instances;

/// <summary>One learner's lab session and its VM. Mirrors the <c>lab_instances</c> table.</summary>
public sealed record LabInstance
{
    public required Guid Id { get; init; }
    public required Guid UserId { get; init; }
    public required Guid LabId { get; init; }
    public LabInstanceStatus Status { get; init; } = LabInstanceStatus.Starting;

    /// <summary>The cloud provider's VM id, once created.</summary>
    public string? CloudInstanceId { get; init; }

    public string? PublicIp { get; init; }
    public string? InternalIp { get; init; }
    public string? AccessUrl { get; init; }
    public IReadOnlyList<int> Ports { get; init; } = [];
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public string? ErrorMessage { get; init; }
    public int RestartCount { get; init; }

    /// <summary>The VM's state (status/power/server) as the cloud last reported it to reconciliation, and when.</summary>
    public string? VmStatus { get; init; }

    public DateTimeOffset? VmCheckedAt { get; init; }

    /// <summary>When a stop was asked for; reconciliation raises it again if the instance is still active a while later.</summary>
    public DateTimeOffset? StopRequestedAt { get; init; }

    /// <summary>This instance with a new status, after checking the move is allowed.</summary>
    public LabInstance MoveTo(LabInstanceStatus status, DateTimeOffset now)
    {
        Status.EnsureCanMoveTo(status);
        return this with
        {
            Status = status,
            EndedAt = status.IsTerminal() ? now : EndedAt,
        };
    }

    /// <summary>The VM label for this instance; the key that makes VM creation idempotent.</summary>
    public static string VmLabel(Guid instanceId) => $"lab-{instanceId}";
}
