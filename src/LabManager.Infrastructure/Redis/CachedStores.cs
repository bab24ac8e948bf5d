using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;

namespace LabManager.Infrastructure.Redis;

/// <summary>Instance reads from the cache first; every change goes to the store and removes the cached copy.</summary>
public sealed class CachedInstanceStore(IInstanceStore store, IInstanceCache cache) : IInstanceStore
{
    public async Task<LabInstance?> GetAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        if (await cache.GetInstanceAsync(instanceId, cancellationToken) is { } cached)
        {
            return cached;
        }

        var instance = await store.GetAsync(instanceId, cancellationToken);
        if (instance is not null)
        {
            await cache.SetInstanceAsync(instance, cancellationToken);
        }

        return instance;
    }

    public Task AddAsync(LabInstance instance, CancellationToken cancellationToken = default) => store.AddAsync(instance, cancellationToken);

    public async Task UpdateAsync(LabInstance instance, CancellationToken cancellationToken = default)
    {
        await store.UpdateAsync(instance, cancellationToken);
        await cache.RemoveInstanceAsync(instance.Id, cancellationToken);
    }

    public async Task SetVmStatusAsync(Guid instanceId, string vmStatus, DateTimeOffset checkedAt, CancellationToken cancellationToken = default)
    {
        await store.SetVmStatusAsync(instanceId, vmStatus, checkedAt, cancellationToken);
        await cache.RemoveInstanceAsync(instanceId, cancellationToken);
    }

    public Task<IReadOnlyList<(Guid InstanceId, string VmId)>> ListBootingAsync(CancellationToken cancellationToken = default) =>
        store.ListBootingAsync(cancellationToken);

    public Task<bool> FirstCloudRequestAsync(Guid instanceId, string request, CancellationToken cancellationToken = default) =>
        store.FirstCloudRequestAsync(instanceId, request, cancellationToken);

    public Task<bool> TakeWatchTurnAsync(long slot, CancellationToken cancellationToken = default) => store.TakeWatchTurnAsync(slot, cancellationToken);

    public async Task RequestStopAsync(Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await store.RequestStopAsync(instanceId, at, cancellationToken);
        await cache.RemoveInstanceAsync(instanceId, cancellationToken);
    }

    public async Task RecordActivityAsync(IReadOnlyDictionary<Guid, DateTimeOffset> lastSeen, CancellationToken cancellationToken = default)
    {
        await store.RecordActivityAsync(lastSeen, cancellationToken);
        foreach (var id in lastSeen.Keys)
        {
            await cache.RemoveInstanceAsync(id, cancellationToken);
        }
    }

    public async Task SetLearnerIpAsync(Guid instanceId, string learnerIp, CancellationToken cancellationToken = default)
    {
        await store.SetLearnerIpAsync(instanceId, learnerIp, cancellationToken);
        await cache.RemoveInstanceAsync(instanceId, cancellationToken);
    }

    public Task AddAccessTicketAsync(string hash, Guid instanceId, Guid userId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default) =>
        store.AddAccessTicketAsync(hash, instanceId, userId, expiresAt, cancellationToken);

    public Task<(Guid InstanceId, Guid UserId)?> RedeemAccessTicketAsync(string hash, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        store.RedeemAccessTicketAsync(hash, now, cancellationToken);

    public Task<IReadOnlyList<LabInstance>> ListByUserAsync(Guid userId, CancellationToken cancellationToken = default) =>
        store.ListByUserAsync(userId, cancellationToken);

    public Task<IReadOnlyList<LabInstance>> ListAsync(bool activeOnly, int limit, CancellationToken cancellationToken = default) =>
        store.ListAsync(activeOnly, limit, cancellationToken);

    public Task<IReadOnlyList<int>> ActiveCountsAsync(DateTimeOffset from, TimeSpan step, int points, CancellationToken cancellationToken = default) =>
        store.ActiveCountsAsync(from, step, points, cancellationToken);

    public Task<IReadOnlyDictionary<Guid, string>> UserNamesAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default) =>
        store.UserNamesAsync(userIds, cancellationToken);

    public async Task<StartOutcome> TryStartAsync(StartRequest request, CancellationToken cancellationToken = default)
    {
        var outcome = await store.TryStartAsync(request, cancellationToken);
        // A claimed pooled instance changed owner.
        if (outcome is StartOutcome.Claimed claimed)
        {
            await cache.RemoveInstanceAsync(claimed.Instance.Id, cancellationToken);
        }

        return outcome;
    }

    public async Task<SessionRequestOutcome> TrySessionRequestAsync(SessionRequest request, CancellationToken cancellationToken = default)
    {
        var outcome = await store.TrySessionRequestAsync(request, cancellationToken);
        await cache.RemoveInstanceAsync(request.InstanceId, cancellationToken);
        return outcome;
    }

    public Task<UserStats> StatsAsync(Guid userId, CancellationToken cancellationToken = default) => store.StatsAsync(userId, cancellationToken);
}

/// <summary>The pool store, keeping the cached catalog (pool settings) and instances (a retired one) true to what it changes.</summary>
public sealed class CachedPoolStore(IPoolStore store, IInstanceCache cache) : IPoolStore
{
    public async Task<bool> SetPoolAsync(Guid labId, LabPool? pool, CancellationToken cancellationToken = default)
    {
        var set = await store.SetPoolAsync(labId, pool, cancellationToken);
        await cache.RemoveCatalogAsync(cancellationToken);
        return set;
    }

    public Task<bool> TryAddAsync(LabInstance instance, int maxGlobal, CancellationToken cancellationToken = default) =>
        store.TryAddAsync(instance, maxGlobal, cancellationToken);

    public async Task<bool> RetireAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var retired = await store.RetireAsync(instanceId, cancellationToken);
        await cache.RemoveInstanceAsync(instanceId, cancellationToken);
        return retired;
    }

    public Task<PoolCounts> CountsAsync(Guid labId, DateTimeOffset since, CancellationToken cancellationToken = default) =>
        store.CountsAsync(labId, since, cancellationToken);
}

/// <summary>The active catalog from the cache (one Redis key every replica reads), filled from the store on a miss; removed at every change.</summary>
public sealed class CachedLabCatalog(ILabCatalog catalog, IInstanceCache cache) : ILabCatalog
{
    public async Task<Lab?> GetAsync(Guid labId, CancellationToken cancellationToken = default) =>
        (await ListAsync(cancellationToken)).FirstOrDefault(l => l.Id == labId) ?? await catalog.GetAsync(labId, cancellationToken);

    public async Task<Lab?> GetAsync(Guid labId, int version, CancellationToken cancellationToken = default) =>
        (await ListAsync(cancellationToken)).FirstOrDefault(l => l.Id == labId && (version == 0 || l.Version == version))
        ?? await catalog.GetAsync(labId, version, cancellationToken);

    public async Task<IReadOnlyList<Lab>> ListAsync(CancellationToken cancellationToken = default)
    {
        if (await cache.GetCatalogAsync(cancellationToken) is { } cached)
        {
            return cached;
        }

        var labs = await catalog.ListAsync(cancellationToken);
        await cache.SetCatalogAsync(labs, cancellationToken);
        return labs;
    }
}

/// <summary>Catalog changes, each removing the cached catalog: every replica reads the change on its next request.</summary>
public sealed class CachedLabCatalogStore(ILabCatalogStore store, IInstanceCache cache) : ILabCatalogStore
{
    public Task<IReadOnlyList<CatalogEntry>> ListAllAsync(CancellationToken cancellationToken = default) => store.ListAllAsync(cancellationToken);

    public async Task<SaveOutcome> SaveAsync(Lab lab, string changedBy, string? note = null, CancellationToken cancellationToken = default)
    {
        var outcome = await store.SaveAsync(lab, changedBy, note, cancellationToken);
        await cache.RemoveCatalogAsync(cancellationToken);
        return outcome;
    }

    public async Task<bool> SetActiveAsync(Guid labId, bool active, string changedBy, CancellationToken cancellationToken = default)
    {
        var set = await store.SetActiveAsync(labId, active, changedBy, cancellationToken);
        await cache.RemoveCatalogAsync(cancellationToken);
        return set;
    }

    public async Task<DeleteOutcome> DeleteAsync(Guid labId, string changedBy, CancellationToken cancellationToken = default)
    {
        var outcome = await store.DeleteAsync(labId, changedBy, cancellationToken);
        await cache.RemoveCatalogAsync(cancellationToken);
        return outcome;
    }

    public Task<IReadOnlyList<LabVersionInfo>> VersionsAsync(Guid labId, CancellationToken cancellationToken = default) => store.VersionsAsync(labId, cancellationToken);
}
