using LabManager.Api.Labs;
using LabManager.Core.Ports;

namespace LabManager.Server;

/// <summary>
/// Starts the pools' keepers, then runs reconciliation every <c>Reconciliation:Interval</c> (default 5 minutes; zero turns it off) with the
/// keepers looked at again each time, like the Functions timer.
/// </summary>
public sealed class ReconciliationService(IReconciler reconciler, PoolKeepers keepers, IConfiguration configuration, TimeProvider time, ILogger<ReconciliationService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await keepers.EnsureAllAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "The pools' keepers could not be started; reconciliation starts them later");
        }

        var interval = configuration.GetValue("Reconciliation:Interval", TimeSpan.FromMinutes(5));
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        await Periodic.EveryAsync(interval, time, async ct =>
        {
            await reconciler.RunAsync(ct);
            await keepers.EnsureAllAsync(ct);
        }, (ex, _) => logger.LogError(ex, "Reconciliation failed; it runs again in {Interval}", interval), stoppingToken);
    }
}
