using LabManager.Core.Instances;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Vm;

/// <summary>
/// One watch for the whole deployment over the VMs that boot: while any instance waits for its VM, each turn lists our VMs by tag
/// (one call per page of up to 500) and tells every waiting session whose VM the list shows usable, once. A booting lab so costs no
/// Vultr call of its own, and the deployment's rate stays one list per turn however many labs boot. Of several replicas, one takes
/// each turn. A VM the list does not show (the tag filter is the cloud's) is left to its session's own, much rarer, look.
/// </summary>
public sealed class VmWatch(IInstanceStore store, ICloudProvider cloud, ILabSessionControl sessions, IOptions<LabSessionOptions> options, TimeProvider time,
    ILogger<VmWatch> logger)
{
    // The sessions already told of their VM (by this process), until they stop waiting: each is told once, not at every turn.
    private readonly HashSet<(Guid InstanceId, string VmId)> _told = [];
    private int _running;

    /// <summary>Takes one turn (none while the last one still runs); answers how many sessions were told their VM is usable.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return 0;
        }

        try
        {
            var booting = await store.ListBootingAsync(cancellationToken);
            _told.IntersectWith(booting);
            var waiting = booting.Where(b => !_told.Contains(b)).ToList();
            var now = time.GetUtcNow();
            if (waiting.Count == 0 || !await store.TakeWatchTurnAsync(now.ToUnixTimeMilliseconds() / (long)options.Value.VmWatchInterval.TotalMilliseconds, cancellationToken))
            {
                return 0;
            }

            var tag = options.Value.VmTag;
            // Checked on our side: our tag and label form, and the label naming the very instance that waits for this VM id.
            var usable = (await cloud.ListVmsAsync(tag, cancellationToken)).Where(v => v.IsOurs(tag) && v.IsReady).DistinctBy(v => v.Id).ToDictionary(v => v.Id);
            var seen = waiting.Where(w => usable.TryGetValue(w.VmId, out var vm) && LabInstance.TryParseVmLabel(vm.Label, out var id, out _) && id == w.InstanceId).ToList();
            await Parallel.ForEachAsync(seen, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (w, ct) =>
            {
                var vm = usable[w.VmId];
                await sessions.VmSeenAsync(w.InstanceId, new VmSighting(vm.Id, vm.MainIp, vm.InternalIp, vm.Describe()), ct);
            });
            _told.UnionWith(seen);
            if (seen.Count > 0)
            {
                logger.LogDebug("VM watch: {Seen} of {Waiting} waiting sessions told their VM is usable ({Listed} usable VMs listed)", seen.Count, waiting.Count, usable.Count);
            }

            return seen.Count;
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }
}
