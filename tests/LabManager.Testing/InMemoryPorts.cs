using System.Collections.Concurrent;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;

namespace LabManager.Testing;

/// <summary>Instances in a dictionary.</summary>
public sealed class InMemoryInstanceStore : IInstanceStore
{
    private readonly ConcurrentDictionary<Guid, LabInstance> _instances = new();

    public Task<LabInstance?> GetAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        Task.FromResult(_instances.GetValueOrDefault(instanceId));

    public Task AddAsync(LabInstance instance, CancellationToken cancellationToken = default) =>
        _instances.TryAdd(instance.Id, instance) ? Task.CompletedTask : throw new InvalidOperationException($"Instance {instance.Id} exists");

    private readonly ConcurrentDictionary<(Guid, string), bool> _cloudRequests = new();
    private long _watchSlot;

    public Task<IReadOnlyList<(Guid InstanceId, string VmId)>> ListBootingAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<(Guid, string)>>([.. _instances.Values
            .Where(i => i.Status == LabInstanceStatus.Provisioning && i.CloudInstanceId is not null).Select(i => (i.Id, i.CloudInstanceId!))]);

    public Task<bool> FirstCloudRequestAsync(Guid instanceId, string request, CancellationToken cancellationToken = default) =>
        Task.FromResult(_instances.ContainsKey(instanceId) && _cloudRequests.TryAdd((instanceId, request), true));

    public Task<bool> TakeWatchTurnAsync(long slot, CancellationToken cancellationToken = default)
    {
        var seen = Interlocked.Read(ref _watchSlot);
        return Task.FromResult(seen < slot && Interlocked.CompareExchange(ref _watchSlot, slot, seen) == seen);
    }

    public Task RequestStopAsync(Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        _instances.AddOrUpdate(instanceId, _ => throw new InvalidOperationException($"Instance {instanceId} does not exist"),
            (_, old) => old with { StopRequestedAt = old.StopRequestedAt ?? at });
        return Task.CompletedTask;
    }

    /// <summary>Like the PostgreSQL store, an update leaves the VM status, the stop request, the learner's address and the activity alone.</summary>
    public Task UpdateAsync(LabInstance instance, CancellationToken cancellationToken = default)
    {
        _instances.AddOrUpdate(instance.Id, instance, (_, old) => instance with
        {
            VmStatus = old.VmStatus, VmCheckedAt = old.VmCheckedAt, StopRequestedAt = old.StopRequestedAt, LearnerIp = old.LearnerIp, LastActivityAt = old.LastActivityAt,
        });
        return Task.CompletedTask;
    }

    public Task RecordActivityAsync(IReadOnlyDictionary<Guid, DateTimeOffset> lastSeen, CancellationToken cancellationToken = default)
    {
        foreach (var (id, at) in lastSeen)
        {
            _instances.AddOrUpdate(id, _ => throw new InvalidOperationException($"Instance {id} does not exist"),
                (_, old) => old with { LastActivityAt = old.LastActivityAt > at ? old.LastActivityAt : at });
        }

        return Task.CompletedTask;
    }

    public Task SetLearnerIpAsync(Guid instanceId, string learnerIp, CancellationToken cancellationToken = default)
    {
        _instances.AddOrUpdate(instanceId, _ => throw new InvalidOperationException($"Instance {instanceId} does not exist"), (_, old) => old with { LearnerIp = learnerIp });
        return Task.CompletedTask;
    }

    /// <summary>Not used by the workflow tests; the real version is the PostgreSQL store.</summary>
    public Task AddAccessTicketAsync(string hash, Guid instanceId, Guid userId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("Use PostgresInstanceStore for access tickets");

    /// <summary>Not used by the workflow tests; the real version is the PostgreSQL store.</summary>
    public Task<(Guid InstanceId, Guid UserId)?> RedeemAccessTicketAsync(string hash, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("Use PostgresInstanceStore for access tickets");

    public Task SetVmStatusAsync(Guid instanceId, string vmStatus, DateTimeOffset checkedAt, CancellationToken cancellationToken = default)
    {
        _instances.AddOrUpdate(instanceId, _ => throw new InvalidOperationException($"Instance {instanceId} does not exist"),
            (_, old) => old with { VmStatus = vmStatus, VmCheckedAt = checkedAt });
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<LabInstance>> ListByUserAsync(Guid userId, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<LabInstance>>([.. _instances.Values.Where(i => i.UserId == userId).OrderByDescending(i => i.CreatedAt)]);

    public Task<IReadOnlyList<LabInstance>> ListAsync(bool activeOnly, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<LabInstance>>([.. _instances.Values.Where(i => !activeOnly || i.Status.IsActive()).OrderByDescending(i => i.CreatedAt).Take(limit)]);

    public Task<IReadOnlyList<int>> ActiveCountsAsync(DateTimeOffset from, TimeSpan step, int points, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<int>>([.. Enumerable.Range(0, points).Select(n => from + n * step)
            .Select(t => _instances.Values.Count(i => i.CreatedAt <= t && (i.EndedAt is null || i.EndedAt > t)))]);

    /// <summary>This store keeps no users.</summary>
    public Task<IReadOnlyDictionary<Guid, string>> UserNamesAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyDictionary<Guid, string>>(new Dictionary<Guid, string>());

    public Task<UserStats> StatsAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        var mine = _instances.Values.Where(i => i.UserId == userId).ToList();
        return Task.FromResult(new UserStats(mine.Count, mine.Count(i => i.Status.IsActive()), mine.Count(i => i.Status == LabInstanceStatus.Stopped),
            mine.Count(i => i.Status == LabInstanceStatus.Expired), mine.Count(i => i.Status == LabInstanceStatus.Error)));
    }

    /// <summary>Not used by the workflow tests; the real, atomic version is the PostgreSQL store.</summary>
    public Task<StartOutcome> TryStartAsync(StartRequest request, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("Use PostgresInstanceStore for quota checks");

    /// <summary>Not used by the workflow tests; the real, atomic version is the PostgreSQL store.</summary>
    public Task<SessionRequestOutcome> TrySessionRequestAsync(SessionRequest request, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("Use PostgresInstanceStore for session request limits");
}

/// <summary>A fixed set of labs.</summary>
public sealed class InMemoryLabCatalog(params Lab[] labs) : ILabCatalog
{
    public Task<Lab?> GetAsync(Guid labId, CancellationToken cancellationToken = default) =>
        Task.FromResult(labs.FirstOrDefault(l => l.Id == labId));

    /// <summary>Each lab has one version here: the one it is.</summary>
    public Task<Lab?> GetAsync(Guid labId, int version, CancellationToken cancellationToken = default) =>
        Task.FromResult(labs.FirstOrDefault(l => l.Id == labId && (version == 0 || l.Version == version)));

    public Task<IReadOnlyList<Lab>> ListAsync(CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<Lab>>(labs);
}

/// <summary>Keeps every message it is asked to send.</summary>
public sealed class RecordingNotifier : INotifier
{
    private readonly ConcurrentQueue<LabStatusEvent> _statuses = new();
    private readonly ConcurrentQueue<(Guid UserId, LabNotification Notification)> _notifications = new();

    public IReadOnlyList<LabStatusEvent> StatusesOf(Guid instanceId) => [.. _statuses.Where(s => s.InstanceId == instanceId)];

    public IReadOnlyList<LabNotification> NotificationsOf(Guid userId) => [.. _notifications.Where(n => n.UserId == userId).Select(n => n.Notification)];

    public Task StatusChangedAsync(LabStatusEvent statusEvent, CancellationToken cancellationToken = default)
    {
        _statuses.Enqueue(statusEvent);
        return Task.CompletedTask;
    }

    public Task NotifyAsync(Guid userId, LabNotification notification, CancellationToken cancellationToken = default)
    {
        _notifications.Enqueue((userId, notification));
        return Task.CompletedTask;
    }

    /// <summary>What operators were told, kept under <see cref="Guid.Empty"/>.</summary>
    public Task NotifyOperatorsAsync(LabNotification notification, CancellationToken cancellationToken = default) => NotifyAsync(Guid.Empty, notification, cancellationToken);
}

/// <summary>Keeps every progress record.</summary>
public sealed class RecordingLearningTracker : ILearningTracker
{
    private readonly ConcurrentQueue<Guid> _started = new();
    private readonly ConcurrentQueue<LabSessionSummary> _ended = new();

    public int StartsOf(Guid instanceId) => _started.Count(i => i == instanceId);

    public IReadOnlyList<LabSessionSummary> EndsOf(Guid instanceId) => [.. _ended.Where(e => e.InstanceId == instanceId)];

    public Task LabStartedAsync(Guid userId, Guid labId, Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        _started.Enqueue(instanceId);
        return Task.CompletedTask;
    }

    public Task LabEndedAsync(LabSessionSummary summary, CancellationToken cancellationToken = default)
    {
        _ended.Enqueue(summary);
        return Task.CompletedTask;
    }

    /// <summary>The flag hashes stored of each instance.</summary>
    public ConcurrentDictionary<Guid, IReadOnlyDictionary<string, string>> Flags { get; } = new();

    public Task StoreFlagsAsync(Guid instanceId, IReadOnlyDictionary<string, string> exerciseHashes, CancellationToken cancellationToken = default)
    {
        Flags.TryAdd(instanceId, exerciseHashes);
        return Task.CompletedTask;
    }
}

/// <summary>Runs kept in a list; the lock is a semaphore of one.</summary>
public sealed class InMemoryReconciliationLog : IReconciliationLog
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ConcurrentQueue<ReconciliationReport> _runs = new();

    public async Task<IAsyncDisposable?> TryLockAsync(CancellationToken cancellationToken = default) =>
        await _lock.WaitAsync(0, cancellationToken) ? new Release(_lock) : null;

    public Task RecordAsync(ReconciliationReport report, CancellationToken cancellationToken = default)
    {
        _runs.Enqueue(report);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<ReconciliationReport>> RecentAsync(int count, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<ReconciliationReport>>([.. _runs.Reverse().Take(count)]);

    private sealed class Release(SemaphoreSlim semaphore) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            semaphore.Release();
            return ValueTask.CompletedTask;
        }
    }
}
