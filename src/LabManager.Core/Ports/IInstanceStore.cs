using LabManager.Core.Instances;
using LabManager.Core.Labs;

namespace LabManager.Core.Ports;

/// <summary>Where lab instances are kept.</summary>
public interface IInstanceStore
{
    Task<LabInstance?> GetAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>Adds a new instance; fails if the id exists.</summary>
    Task AddAsync(LabInstance instance, CancellationToken cancellationToken = default);

    /// <summary>Replaces the stored instance with <paramref name="instance"/> (same id), except what has a setter of its own (VM status, stop request, learner address, activity).</summary>
    Task UpdateAsync(LabInstance instance, CancellationToken cancellationToken = default);

    /// <summary>Records the VM's state as the cloud reported it; touches nothing else of the instance.</summary>
    Task SetVmStatusAsync(Guid instanceId, string vmStatus, DateTimeOffset checkedAt, CancellationToken cancellationToken = default);

    /// <summary>The instances provisioning with a VM (booting, or their lab awaited), by VM id: what the shared VM watch looks out for.</summary>
    Task<IReadOnlyList<(Guid InstanceId, string VmId)>> ListBootingAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Notes that the instance is about to ask the cloud to make <paramref name="request"/> (<c>vm-1</c>, <c>firewall</c>): true the first
    /// time. Later (a retry, a rerun after a crash) an earlier request may have reached the cloud with its answer lost, so the caller looks
    /// for what it made before asking again. False too for an instance that is not stored.
    /// </summary>
    Task<bool> FirstCloudRequestAsync(Guid instanceId, string request, CancellationToken cancellationToken = default);

    /// <summary>Takes turn <paramref name="slot"/> of the shared VM watch: true for one caller per turn, however many replicas ask.</summary>
    Task<bool> TakeWatchTurnAsync(long slot, CancellationToken cancellationToken = default);

    /// <summary>Remembers that a stop was asked for (the first time only); touches nothing else.</summary>
    Task RequestStopAsync(Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Raises each instance's last activity to the time given (never lowers it).</summary>
    Task RecordActivityAsync(IReadOnlyDictionary<Guid, DateTimeOffset> lastSeen, CancellationToken cancellationToken = default);

    /// <summary>Records the address the learner asks for access from; <see cref="UpdateAsync"/> leaves it alone.</summary>
    Task SetLearnerIpAsync(Guid instanceId, string learnerIp, CancellationToken cancellationToken = default);

    /// <summary>Keeps an access ticket (by its hash) for one use until <paramref name="expiresAt"/>.</summary>
    Task AddAccessTicketAsync(string hash, Guid instanceId, Guid userId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>Uses up the ticket: whom and what it was for, or null when it is unknown, used already or expired.</summary>
    Task<(Guid InstanceId, Guid UserId)?> RedeemAccessTicketAsync(string hash, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>A user's instances, newest first.</summary>
    Task<IReadOnlyList<LabInstance>> ListByUserAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Every instance, newest first; only active ones when <paramref name="activeOnly"/>.</summary>
    Task<IReadOnlyList<LabInstance>> ListAsync(bool activeOnly, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// How many instances were active (created, not yet ended) at each of <paramref name="points"/> moments
    /// <paramref name="step"/> apart, the first at <paramref name="from"/>.
    /// </summary>
    Task<IReadOnlyList<int>> ActiveCountsAsync(DateTimeOffset from, TimeSpan step, int points, CancellationToken cancellationToken = default);

    /// <summary>How the given users are known (name, email or both, as their last start told); users without either are left out.</summary>
    Task<IReadOnlyDictionary<Guid, string>> UserNamesAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default);

    /// <summary>How many instances a user has had, by outcome.</summary>
    Task<UserStats> StatsAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Admits a start under the quotas, atomically: the checks and the insert happen as one, so concurrent
    /// starts never admit more than the quotas allow. An active instance of the same lab is returned instead
    /// of a second one. A ready pooled instance of the lab is claimed, in the same transaction, rather than a new one made.
    /// </summary>
    Task<StartOutcome> TryStartAsync(StartRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Admits a learner's restart, reset or extension of a running instance, atomically: at most <see cref="SessionRequest.Max"/> of
    /// that kind per <see cref="SessionRequest.Window"/> per user, and a rebuild only while none is under way — an admitted one moves
    /// the instance to provisioning here, so a second one finds it not running.
    /// </summary>
    Task<SessionRequestOutcome> TrySessionRequestAsync(SessionRequest request, CancellationToken cancellationToken = default);
}

/// <summary>What a learner asks of a running session.</summary>
public enum SessionRequestKind
{
    /// <summary>A restart or a reset: the VM is rebooted or replaced.</summary>
    Rebuild,
    Extend,

    /// <summary>Opening the lab's firewall to a new address of the learner's (a few Vultr calls each).</summary>
    Readdress,
}

/// <summary>A restart, reset or extension of <see cref="InstanceId"/> by <see cref="UserId"/>, and the limit it is admitted under.</summary>
public sealed record SessionRequest(Guid InstanceId, Guid UserId, SessionRequestKind Kind, DateTimeOffset Now, int Max, TimeSpan Window);

/// <summary>What became of a session request.</summary>
public abstract record SessionRequestOutcome
{
    /// <summary>Admitted: the instance as it is now (provisioning, for a rebuild).</summary>
    public sealed record Accepted(LabInstance Instance) : SessionRequestOutcome;

    /// <summary>The instance is not running (a rebuild under way shows as provisioning).</summary>
    public sealed record NotRunning(LabInstanceStatus Status) : SessionRequestOutcome;

    /// <summary>Too many of this kind in the window.</summary>
    public sealed record RateLimited(TimeSpan RetryAfter) : SessionRequestOutcome;
}

/// <summary>A learner's lab counts: all, active now, stopped, expired, and ended in error.</summary>
public sealed record UserStats(int Total, int Active, int Stopped, int Expired, int Error);

/// <summary>Who is starting which lab; <see cref="InstanceId"/> becomes the new instance's id.</summary>
public sealed record StartRequest(Guid InstanceId, UserRef User, Lab Lab, DateTimeOffset Now, QuotaPolicy Quotas);

/// <summary>A user as the identity provider describes them.</summary>
public sealed record UserRef(Guid Id, string? Email, string? Name, bool IsAdmin);

/// <summary>Limits on active instances and on how fast a user may start labs.</summary>
public sealed record QuotaPolicy(int MaxActivePerUser, int MaxActiveGlobal, int MaxStartsPerWindow, TimeSpan StartWindow);

/// <summary>What became of a start request.</summary>
public abstract record StartOutcome
{
    /// <summary>A new instance, status starting.</summary>
    public sealed record Created(LabInstance Instance) : StartOutcome;

    /// <summary>A ready VM of the lab's pool, now the user's (still <c>pooled</c> until its session runs it for them).</summary>
    public sealed record Claimed(LabInstance Instance) : StartOutcome;

    /// <summary>The user already has this lab starting or running.</summary>
    public sealed record Existing(LabInstance Instance) : StartOutcome;

    /// <summary>A quota is full: <paramref name="Quota"/> is <c>user</c>, <c>lab</c> or <c>global</c>.</summary>
    public sealed record QuotaExceeded(string Quota, int Limit) : StartOutcome;

    /// <summary>Too many starts in the window.</summary>
    public sealed record RateLimited(TimeSpan RetryAfter) : StartOutcome;
}
