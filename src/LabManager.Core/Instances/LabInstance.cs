using System.Globalization;
using LabManager.Core.Ports;

namespace LabManager.Core.Instances;

/// <summary>One learner's lab session and its VM. Mirrors the <c>lab_instances</c> table.</summary>
public sealed record LabInstance
{
    public required Guid Id { get; init; }
    public required Guid UserId { get; init; }
    public required Guid LabId { get; init; }

    /// <summary>The version of the lab the instance started with (<see cref="Labs.Lab.Version"/>); 0 for one started before versions were kept.</summary>
    public int LabVersion { get; init; }
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

    /// <summary>Every VM the session was given (a reset adds one), with when it was made and destroyed: what the session costs.</summary>
    public IReadOnlyList<VmUsage> Vms { get; init; } = [];

    /// <summary>The instance's firewall group at the cloud, once made.</summary>
    public string? FirewallGroupId { get; init; }

    /// <summary>The address the learner last asked for access from: what the firewall opens to them.</summary>
    public string? LearnerIp { get; init; }

    /// <summary>The last request through the gateway or keep-alive of the page (recorded at most every few seconds).</summary>
    public DateTimeOffset? LastActivityAt { get; init; }

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

    /// <summary>
    /// The label of the instance's <paramref name="generation"/>-th VM: <c>lab-&lt;id&gt;</c> for the first, <c>lab-&lt;id&gt;-2</c> … for those a
    /// reset makes. The key that makes VM creation idempotent, and half of what makes a VM ours (<see cref="CloudVm.IsOurs"/>).
    /// </summary>
    public static string VmLabel(Guid instanceId, int generation = 1) =>
        generation <= 1 ? $"lab-{instanceId:D}" : string.Create(CultureInfo.InvariantCulture, $"lab-{instanceId:D}-{generation}");

    /// <summary>Reads a label of LabManager's form, exactly as <see cref="VmLabel"/> writes it; false for any other label.</summary>
    public static bool TryParseVmLabel(string label, out Guid instanceId, out int generation)
    {
        instanceId = Guid.Empty;
        generation = 0;
        const int idEnd = 4 + 36;
        if (!label.StartsWith("lab-", StringComparison.Ordinal) || label.Length < idEnd || !Guid.TryParseExact(label.AsSpan(4, 36), "D", out var id))
        {
            return false;
        }

        var gen = 1;
        if (label.Length > idEnd && (label[idEnd] != '-' || !int.TryParse(label.AsSpan(idEnd + 1), NumberStyles.None, CultureInfo.InvariantCulture, out gen)))
        {
            return false;
        }

        // Round trip: no upper-case id, no "-1", no leading zeros.
        if (VmLabel(id, gen) != label || (label.Length > idEnd && gen < 2))
        {
            return false;
        }

        (instanceId, generation) = (id, gen);
        return true;
    }
}

/// <summary>One VM of a session: billed from <see cref="CreatedAt"/> until <see cref="DestroyedAt"/> (null while it lives).</summary>
public sealed record VmUsage(string VmId, DateTimeOffset CreatedAt, DateTimeOffset? DestroyedAt = null);
