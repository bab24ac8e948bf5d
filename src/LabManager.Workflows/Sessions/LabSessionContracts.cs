using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;

namespace LabManager.Workflows.Sessions;

/// <summary>Names of the external events a lab session listens to.</summary>
public static class LabEvents
{
    /// <summary>End the session now (payload <see cref="StopRequest"/>).</summary>
    public const string Stop = "Stop";

    /// <summary>Move the expiry later (payload <see cref="ExtendRequest"/>).</summary>
    public const string Extend = "Extend";

    /// <summary>Reboot the VM and wait for the lab again.</summary>
    public const string Restart = "Restart";

    /// <summary>Give the lab a fresh VM (the old one destroyed, a new one made under the next label generation).</summary>
    public const string Reset = "Reset";

    /// <summary>The VM phoned home: the lab is up on the boot it names (payload <see cref="LabReport"/>).</summary>
    public const string LabReady = "LabReady";

    /// <summary>A learner claimed this pooled session (payload <see cref="ClaimRequest"/>).</summary>
    public const string Claim = "Claim";

    /// <summary>The lab's agent reported a change of its containers' health (payload <see cref="LabHealthReport"/>).</summary>
    public const string Health = "Health";

    /// <summary>The shared VM watch saw the session's VM usable (payload <see cref="Core.Instances.VmSighting"/>).</summary>
    public const string VmSeen = "VmSeen";

    /// <summary>A pool's keeper: look at the pool now (a claim took a VM, or the settings changed); payload: the global quota now.</summary>
    public const string WakeKeeper = "WakeKeeper";
}

/// <summary>Payload of <see cref="LabEvents.Claim"/>: whose the pooled lab now is, and the session they asked for.</summary>
public sealed record ClaimRequest(Guid UserId, TimeSpan SessionLength, TimeSpan IdleTimeout);

/// <summary>
/// Payload of <see cref="LabEvents.LabReady"/>: which of the session's VMs (<see cref="Generation"/>, 1 for the first, one more per
/// reset) reported the lab up, on which boot of that VM (<see cref="Boot"/>, counted by the VM's per-boot script). Sent by the VM, so
/// untrusted: it can only tell the workflow something it then decides on.
/// </summary>
public sealed record LabReport(int Generation = 1, int Boot = 1);

/// <summary>Payload of <see cref="LabEvents.Stop"/>. <paramref name="Reason"/>: <c>user</c>, <c>admin</c>, <c>reconciliation</c>, <c>expired</c>.</summary>
public sealed record StopRequest(string Reason = "user")
{
    /// <summary>The reason that ends the session as expired rather than stopped.</summary>
    public const string Expired = "expired";
}

/// <summary>Payload of <see cref="LabEvents.Extend"/>.</summary>
public sealed record ExtendRequest(TimeSpan By);

/// <summary>Timings of a session; tests shrink them.</summary>
public sealed record SessionTimings
{
    /// <summary>
    /// How long a booting session waits for the VM watch (<see cref="LabSessionOptions.VmWatchInterval"/>) before it looks at its VM itself
    /// (one Vultr call); doubles up to <see cref="VmPollMax"/>. Longer than a boot, so that the watch, not the session, sees a VM come up.
    /// </summary>
    public TimeSpan VmPollInitial { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Longest wait between a session's own looks at its VM (each one Vultr call).</summary>
    public TimeSpan VmPollMax { get; init; } = TimeSpan.FromMinutes(4);

    /// <summary>After the lab phoned home from a VM the watch has not told of yet, how long before the session looks at the VM itself.</summary>
    public TimeSpan VmLookAfterPhoneHome { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a VM may take to be active/running/ok.</summary>
    public TimeSpan ProvisioningDeadline { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Wait between probes of the lab's access URL.</summary>
    public TimeSpan LabProbeInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the lab may take to answer once the VM is up (cloud-init, image pulls).</summary>
    public TimeSpan LabReadyDeadline { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// After a reboot, how long before an answering probe is believed: right after the reboot's 204 the VM may still show ok and serve
    /// the previous boot's lab. The VM's phone-home with a higher boot number is believed at once.
    /// </summary>
    public TimeSpan RebootSettle { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long before an idle stop the learner is warned (at most half the idle timeout).</summary>
    public TimeSpan IdleWarning { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long before expiry the learner is warned (<c>lab:notification</c>); zero for no warning.</summary>
    public TimeSpan ExpiryWarning { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>First wait between activity retries.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Live-loop events handled before the history is restarted with ContinueAsNew.</summary>
    public int EventsPerGeneration { get; init; } = 20;
}

/// <summary>Input of <see cref="LabSessionOrchestrator"/>; the orchestration's instance id is <see cref="InstanceId"/>.</summary>
public sealed record LabSessionInput
{
    public required Guid InstanceId { get; init; }
    public required Guid UserId { get; init; }
    public required Guid LabId { get; init; }

    /// <summary>Session length once running (the lab's timeout or the learner's override).</summary>
    public required TimeSpan SessionLength { get; init; }

    /// <summary>Upper bound of running time, extensions included.</summary>
    public required TimeSpan MaxLifetime { get; init; }

    public SessionTimings Timings { get; init; } = new();

    /// <summary>What the activities need of the lab, fixed at the start; null only for sessions scheduled by an earlier version.</summary>
    public SessionLab? Lab { get; init; }

    /// <summary>How long the running lab may go without activity before it is stopped; zero: never (and for sessions of an earlier version).</summary>
    public TimeSpan IdleTimeout { get; init; }

    /// <summary>
    /// Set for a pooled session: it waits, booted, for a learner's claim at most this long from its start, then retires. Null once
    /// claimed (the session is then a learner's like any other).
    /// </summary>
    public TimeSpan? PoolMaxAge { get; init; }

    /// <summary>Set when the live loop continues as new: the session is already running.</summary>
    public LiveSession? Live { get; init; }
}

/// <summary>
/// The state of a running session carried across ContinueAsNew: every VM it was given (<see cref="Vms"/>), the label generation of the
/// current one, and the highest boot that VM reported.
/// </summary>
public sealed record LiveSession(
    string VmId,
    string PublicIp,
    string? AccessUrl,
    DateTimeOffset StartedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset MaxExpiresAt,
    int RestartCount,
    IReadOnlyList<VmUsage> Vms,
    int Generation = 1,
    int Boot = 0,
    DateTimeOffset? WarnedFor = null,
    string? FirewallGroupId = null,
    DateTimeOffset? IdleCheckAt = null,
    DateTimeOffset? IdleWarnedFor = null);

/// <summary>
/// The lab as a session runs it: where and how its VM is made and what runs on it. Carried in the input, so the activities do not
/// read the catalog at each call and a change to the catalog never alters a running session. Flags and hints stay out; of dynamic
/// flags, only the variable each exercise's flag goes in (<see cref="DynamicFlags"/>: exercise id → variable).
/// </summary>
public sealed record SessionLab(string Name, string Region, string Plan, BootImage? Image, ContainerConfig Container, IReadOnlyDictionary<string, string>? DynamicFlags = null)
{
    public static SessionLab From(Lab lab) => new(lab.Name, lab.Region, lab.Plan, lab.Image, lab.ContainerConfig,
        lab.Exercises.Where(e => e.Check?.DynamicFlag is not null).ToDictionary(e => e.Id, e => e.Check!.DynamicFlag!) is { Count: > 0 } flags ? flags : null);
}

/// <summary>How the session ended.</summary>
public sealed record LabSessionResult(LabInstanceStatus Status, string? Error, bool VmDestroyed);
