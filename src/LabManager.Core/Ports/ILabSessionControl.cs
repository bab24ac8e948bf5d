namespace LabManager.Core.Ports;

/// <summary>Starts lab sessions and sends them commands (the durable workflow behind it).</summary>
public interface ILabSessionControl
{
    /// <summary>Schedules the session of a new instance; idempotent for the same instance id.</summary>
    Task StartAsync(Guid instanceId, Guid userId, Labs.Lab lab, TimeSpan sessionLength, CancellationToken cancellationToken = default);

    /// <summary>Schedules the session of a new pooled instance: it boots, waits in the pool, and ends once older than the pool allows.</summary>
    Task StartPooledAsync(Guid instanceId, Labs.Lab lab, CancellationToken cancellationToken = default);

    /// <summary>Hands a pooled instance that <paramref name="userId"/> claimed over to its session, which then runs it for them.</summary>
    Task ClaimAsync(Guid instanceId, Guid userId, Labs.Lab lab, TimeSpan sessionLength, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes sure the keeper of <paramref name="labId"/>'s pool runs (within <paramref name="maxGlobal"/> active instances in all), and
    /// wakes it to look at the pool now.
    /// </summary>
    Task WakePoolKeeperAsync(Guid labId, int maxGlobal, CancellationToken cancellationToken = default);

    Task StopAsync(Guid instanceId, string reason, CancellationToken cancellationToken = default);

    Task RestartAsync(Guid instanceId, CancellationToken cancellationToken = default);

    Task ResetAsync(Guid instanceId, CancellationToken cancellationToken = default);

    Task ExtendAsync(Guid instanceId, TimeSpan by, CancellationToken cancellationToken = default);

    /// <summary>
    /// The lab's VM reports the lab up (its per-boot phone-home): on boot <paramref name="boot"/> of the session's
    /// <paramref name="generation"/>-th VM. False, and nothing raised, when the key is wrong.
    /// </summary>
    Task<bool> LabReadyAsync(Guid instanceId, string? key, int generation, int boot, CancellationToken cancellationToken = default);

    /// <summary>Whether <paramref name="key"/> is the key the instance's VMs were given (what their phone-home and agent present).</summary>
    bool IsVmKey(Guid instanceId, string? key);

    /// <summary>Tells a booting session the VM watch saw its VM usable.</summary>
    Task VmSeenAsync(Guid instanceId, Instances.VmSighting sighting, CancellationToken cancellationToken = default);

    /// <summary>Tells the session what the agent's heartbeat changed; the session decides what to do with it.</summary>
    Task ReportHealthAsync(Guid instanceId, Instances.LabHealthReport report, CancellationToken cancellationToken = default);

    /// <summary>Where the session is (step and message), or null if it has none.</summary>
    Task<SessionProgress?> GetProgressAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>The longest a session may run, extensions included.</summary>
    TimeSpan MaxLifetime { get; }
}

/// <summary>The workflow's own account of where a session is.</summary>
public sealed record SessionProgress(string RuntimeStatus, string? Step, string? Message);
