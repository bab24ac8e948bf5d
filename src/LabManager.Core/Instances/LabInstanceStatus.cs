namespace LabManager.Core.Instances;

/// <summary>Where a lab instance is in its life. Stored lower-case in the database and APIs.</summary>
public enum LabInstanceStatus
{
    Starting,
    Provisioning,
    Running,
    Stopping,
    Stopped,
    Expired,
    Error,

    /// <summary>Booted with the lab answering, in its lab's warm pool, owned by no learner until a start claims it.</summary>
    Pooled,
}

/// <summary>The allowed moves between <see cref="LabInstanceStatus"/> values.</summary>
public static class LabInstanceTransitions
{
    private static readonly Dictionary<LabInstanceStatus, LabInstanceStatus[]> Allowed = new()
    {
        // Starting: the row exists, the VM is being created.
        [LabInstanceStatus.Starting] = [LabInstanceStatus.Provisioning, LabInstanceStatus.Stopping, LabInstanceStatus.Error],
        // Provisioning: the VM exists and boots, or reboots/reinstalls after Restart/Reset.
        [LabInstanceStatus.Provisioning] = [LabInstanceStatus.Running, LabInstanceStatus.Pooled, LabInstanceStatus.Stopping, LabInstanceStatus.Error],
        // Pooled: ready and waiting for a learner; claimed, it runs for them.
        [LabInstanceStatus.Pooled] = [LabInstanceStatus.Running, LabInstanceStatus.Stopping, LabInstanceStatus.Error],
        [LabInstanceStatus.Running] = [LabInstanceStatus.Provisioning, LabInstanceStatus.Stopping, LabInstanceStatus.Error],
        [LabInstanceStatus.Stopping] = [LabInstanceStatus.Stopped, LabInstanceStatus.Expired, LabInstanceStatus.Error],
        [LabInstanceStatus.Stopped] = [],
        [LabInstanceStatus.Expired] = [],
        [LabInstanceStatus.Error] = [],
    };

    /// <summary>True when the instance has ended and holds no VM.</summary>
    public static bool IsTerminal(this LabInstanceStatus status) => Allowed[status].Length == 0;

    /// <summary>True while the instance counts against quotas (it has or will have a VM).</summary>
    public static bool IsActive(this LabInstanceStatus status) => !status.IsTerminal();

    /// <summary>The statuses that count against quotas, in life order: the one definition every store and view derives from.</summary>
    public static IReadOnlyList<LabInstanceStatus> Active { get; } = [.. Enum.GetValues<LabInstanceStatus>().Where(IsActive)];

    public static bool CanMoveTo(this LabInstanceStatus from, LabInstanceStatus to) => Allowed[from].Contains(to);

    /// <summary>Throws <see cref="InvalidStatusTransitionException"/> unless the move is allowed.</summary>
    public static void EnsureCanMoveTo(this LabInstanceStatus from, LabInstanceStatus to)
    {
        if (!from.CanMoveTo(to))
        {
            throw new InvalidStatusTransitionException(from, to);
        }
    }

    /// <summary>The lower-case wire name, e.g. <c>running</c>.</summary>
    public static string ToWire(this LabInstanceStatus status) => status.ToString().ToLowerInvariant();

    public static LabInstanceStatus ParseWire(string value) =>
        Enum.TryParse<LabInstanceStatus>(value, ignoreCase: true, out var s) && !int.TryParse(value, out _)
            ? s
            : throw new ArgumentException($"'{value}' is not a lab instance status", nameof(value));
}

public sealed class InvalidStatusTransitionException(LabInstanceStatus from, LabInstanceStatus to)
    : InvalidOperationException($"A lab instance cannot go from {from.ToWire()} to {to.ToWire()}")
{
    public LabInstanceStatus From { get; } = from;
    public LabInstanceStatus To { get; } = to;
}
