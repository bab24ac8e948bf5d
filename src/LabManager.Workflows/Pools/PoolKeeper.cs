using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Workflows.Readiness;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace LabManager.Workflows.Pools;

/// <summary>Input of <see cref="PoolKeeperOrchestrator"/>: the lab whose pool it keeps, and the deployment's global quota it keeps within.</summary>
public sealed record PoolKeeperInput(Guid LabId, int MaxGlobal);

/// <summary>What one look at a pool did: <see cref="Keep"/> false once the lab has no pool and nothing pooled; when to look next.</summary>
public sealed record PoolKept(bool Keep, int Started, int Retired, TimeSpan Next);

/// <summary>
/// The keeper of one lab's warm pool (instance id <see cref="LabPool.KeeperId"/>): looks at the pool, boots or retires VMs to keep it
/// between min and max, then sleeps until the next look or until woken (a claim, new settings). Eternal through ContinueAsNew, so
/// its history stays one turn long; it ends once the lab has no pool and nothing pooled, and is started again when needed.
/// </summary>
public sealed class PoolKeeperOrchestrator : TaskOrchestrator<PoolKeeperInput, bool>
{
    /// <summary>How long the keeper sleeps after it could not look at the pool.</summary>
    private static readonly TimeSpan AfterFailure = TimeSpan.FromMinutes(1);

    public override async Task<bool> RunAsync(TaskOrchestrationContext context, PoolKeeperInput input)
    {
        TimeSpan next;
        try
        {
            var kept = await context.CallActivityAsync<PoolKept>(nameof(KeepPoolActivity), input,
                TaskOptions.FromRetryPolicy(new RetryPolicy(3, TimeSpan.FromSeconds(1), 2)));
            if (!kept.Keep)
            {
                return true;
            }

            next = kept.Next;
        }
        catch (TaskFailedException)
        {
            next = AfterFailure;
        }

        using var cts = new CancellationTokenSource();
        var timer = context.CreateTimer(context.CurrentUtcDateTime + next, cts.Token);
        var woken = context.WaitForExternalEvent<int>(Sessions.LabEvents.WakeKeeper);
        if (await Task.WhenAny(timer, woken) == woken)
        {
            cts.Cancel();
            // The waker says the global quota as it is configured now.
            input = input with { MaxGlobal = woken.Result };
        }

        context.ContinueAsNew(input, preserveUnprocessedEvents: false);
        return true;
    }
}

/// <summary>
/// One look at a lab's pool: retires ready VMs whose lab stopped answering, and unclaimed ones beyond what is wanted now (<see cref="LabPool.Min"/>,
/// or a warm-up's count), boots new pooled sessions up to it within the global quota; after pooled VMs failed (Vultr refusing, a lab that
/// does not come up) it boots one at a time and looks again later, so a broken lab cannot make it spend VMs in a loop.
/// </summary>
public sealed class KeepPoolActivity(
    ILabCatalog catalog, IPoolStore pools, IInstanceStore instances, ILabSessionControl sessions, ProbeLabActivity probe, TimeProvider time,
    ILogger<KeepPoolActivity> logger) : TaskActivity<PoolKeeperInput, PoolKept>
{
    /// <summary>How often a pool is looked at when nothing wakes its keeper.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    /// <summary>How early a warm-up starts booting while the lab's boot time is not known yet.</summary>
    public static readonly TimeSpan DefaultLead = TimeSpan.FromMinutes(10);

    /// <summary>The span over which failures slow the keeper down.</summary>
    public static readonly TimeSpan FailureWindow = TimeSpan.FromMinutes(10);

    public override Task<PoolKept> RunAsync(TaskActivityContext context, PoolKeeperInput input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<PoolKept> ExecuteAsync(PoolKeeperInput input)
    {
        var now = time.GetUtcNow();
        var lab = await catalog.GetAsync(input.LabId);
        var pool = lab is { IsActive: true, Pool: { } p } ? p : LabPool.None;
        var counts = await pools.CountsAsync(input.LabId, now - FailureWindow);
        var have = counts.Ready + counts.Booting;
        // A ready VM whose lab stopped answering is retired, and replaced below.
        var dead = lab is null ? [] : await RetireDeadAsync(lab, counts.ReadyIds);
        have -= dead.Count;
        // The lab changed since they booted: they run its earlier version, which no learner may be given.
        var stale = 0;
        foreach (var id in counts.StaleIds)
        {
            stale += await RetireAsync(id) ? 1 : 0;
        }

        if (pool.Max == 0 && have == 0)
        {
            return new PoolKept(false, 0, stale, Interval);
        }

        // Beyond what is wanted now (the settings were lowered, a warm-up ended): the youngest booting ones go first, then the oldest ready.
        // A class's warm-up starts early enough: the lab's recent boots, with half again as margin (10 minutes before any is known).
        var lead = counts.TypicalBoot is { } boot ? boot * 1.5 : DefaultLead;
        var wanted = pool.WantedAt(now, lead);
        var retired = 0;
        foreach (var id in counts.BootingIds.Reverse().Concat(counts.ReadyIds.Except(dead)).Take(Math.Max(0, have - wanted)))
        {
            retired += await RetireAsync(id) ? 1 : 0;
        }

        // A pooled instance whose session never started (the keeper died between adding it and starting it) is started now: the slot
        // is filled by it, never by a second VM.
        foreach (var id in counts.StartingIds.Take(pool.Max))
        {
            if (await sessions.GetProgressAsync(id) is null)
            {
                logger.LogWarning("Pool of {Lab}: pooled instance {InstanceId} had no session; starting it", lab!.Slug, id);
                await sessions.StartPooledAsync(id, lab);
            }
        }

        var want = wanted - have;
        if (counts.Failed > 0)
        {
            want = Math.Min(want, 1);
        }

        var started = 0;
        for (; started < want; started++)
        {
            var instance = new LabInstance
            {
                Id = Guid.NewGuid(), UserId = LabPool.Owner, LabId = input.LabId, LabVersion = lab!.Version, CreatedAt = now, Ports = lab.ContainerConfig.HostPorts(),
            };
            if (!await pools.TryAddAsync(instance, input.MaxGlobal))
            {
                logger.LogWarning("Pool of {Lab}: the global quota of {Max} instances is reached; {Missing} pooled VMs not booted", lab.Slug, input.MaxGlobal, want - started);
                break;
            }

            await sessions.StartPooledAsync(instance.Id, lab);
        }

        if (started + retired + dead.Count + stale > 0)
        {
            logger.LogInformation("Pool of {Lab}: {Ready} ready, {Booting} booting; booted {Started}, retired {Retired}, {Dead} whose lab stopped answering, {Stale} of an earlier version",
                lab?.Slug, counts.Ready, counts.Booting, started, retired, dead.Count, stale);
        }

        var next = counts.Failed > 0 ? TimeSpan.FromTicks(Interval.Ticks * Math.Min(counts.Failed, 10)) : Interval;
        if (pool.NextChange(now, lead) is { } change && change - now < next)
        {
            next = change - now;
        }

        return new PoolKept(true, started, retired + dead.Count + stale, next);
    }

    /// <summary>Probes the ready VMs' labs (as the session did before it pooled them); those that do not answer are retired (their ids answered).</summary>
    private async Task<List<Guid>> RetireDeadAsync(Lab lab, IReadOnlyList<Guid> ready)
    {
        var answers = await Task.WhenAll(ready.Select(async id => (Id: id, Up: await instances.GetAsync(id) is not { PublicIp: { } ip }
            || (await probe.ExecuteAsync(new ProbeLabInput(lab.Id, ip, lab.ContainerConfig, id))).Up)));
        var dead = new List<Guid>();
        foreach (var (id, _) in answers.Where(a => !a.Up))
        {
            if (await RetireAsync(id))
            {
                logger.LogWarning("Pool of {Lab}: the lab of pooled instance {InstanceId} stopped answering; replacing it", lab.Slug, id);
                dead.Add(id);
            }
        }

        return dead;
    }

    /// <summary>Retires an unclaimed pooled instance and tells its session to stop; false when a learner claimed it first.</summary>
    private async Task<bool> RetireAsync(Guid id)
    {
        if (!await pools.RetireAsync(id))
        {
            return false;
        }

        await sessions.StopAsync(id, "pool");
        return true;
    }
}

/// <summary>Moves an unclaimed pooled instance to stopping; false when a learner claimed it first (the claim wins).</summary>
public sealed class RetirePooledActivity(IPoolStore pools) : TaskActivity<Guid, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, Guid input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public Task<bool> ExecuteAsync(Guid input) => pools.RetireAsync(input);
}
