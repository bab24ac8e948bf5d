using LabManager.Workflows;
using LabManager.Workflows.Vm;
using Microsoft.Extensions.Options;

namespace LabManager.Server;

/// <summary>Takes a turn of the shared <see cref="VmWatch"/> every <c>LabSessions:VmWatchInterval</c>.</summary>
public sealed class VmWatchService(VmWatch watch, IOptions<LabSessionOptions> options, TimeProvider time, ILogger<VmWatchService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.VmWatchInterval, time);
        var failing = false;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await watch.RunAsync(stoppingToken);
                failing = false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Once per outage, not at every turn; booting sessions look at their VMs themselves meanwhile.
                logger.Log(failing ? LogLevel.Debug : LogLevel.Warning, ex, "The VM watch failed; it tries again every {Interval}", options.Value.VmWatchInterval);
                failing = true;
            }
        }
    }
}
