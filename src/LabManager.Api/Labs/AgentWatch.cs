using LabManager.Core.Instances;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Labs;

/// <summary>
/// Finds running labs whose agent has gone silent for <see cref="AgentOptions.SilentIntervals"/> intervals: operators are told (and the
/// operator table marks them), and reconciliation looks at every VM at once.
/// </summary>
public sealed class AgentWatch(ILabHealthStore health, INotifier notifier, IReconciler reconciler, IOptions<AgentOptions> options, TimeProvider time, ILogger<AgentWatch> logger)
{
    /// <summary>Looks once; answers the instances found silent.</summary>
    public async Task<IReadOnlyList<Guid>> RunAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var silent = await health.TakeSilentAsync(now - options.Value.SilentAfter, now, cancellationToken);
        foreach (var id in silent)
        {
            logger.LogWarning("Instance {InstanceId}: no heartbeat for {Seconds:F0} s while running; reconciling", id, options.Value.SilentAfter.TotalSeconds);
            await notifier.NotifyOperatorsAsync(new LabNotification("warning", $"Instance {id}: its agent has been silent for {options.Value.SilentAfter.TotalSeconds:F0} s",
                new Dictionary<string, string> { ["instanceId"] = id.ToString(), ["kind"] = "silent" }), cancellationToken);
        }

        if (silent.Count > 0)
        {
            await reconciler.RunAsync(cancellationToken);
        }

        return silent;
    }
}
