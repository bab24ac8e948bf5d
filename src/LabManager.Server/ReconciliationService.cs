using LabManager.Core.Ports;

namespace LabManager.Server;

/// <summary>Runs reconciliation every <c>Reconciliation:Interval</c> (default 5 minutes; zero turns it off), like the Functions timer.</summary>
public sealed class ReconciliationService(IReconciler reconciler, IConfiguration configuration, TimeProvider time, ILogger<ReconciliationService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = configuration.GetValue("Reconciliation:Interval", TimeSpan.FromMinutes(5));
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await reconciler.RunAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Reconciliation failed; it runs again in {Interval}", interval);
            }
        }
    }
}
