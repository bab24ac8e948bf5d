using LabManager.Workflows;
using LabManager.Workflows.Vm;
using Microsoft.Extensions.Options;

namespace LabManager.Server;

/// <summary>Takes a turn of the shared <see cref="VmWatch"/> every <c>LabSessions:VmWatchInterval</c>.</summary>
public sealed class VmWatchService(VmWatch watch, IOptions<LabSessionOptions> options, TimeProvider time, ILogger<VmWatchService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Periodic.EveryAsync(options.Value.VmWatchInterval, time, watch.RunAsync,
        // Once per outage, not at every turn; booting sessions look at their VMs themselves meanwhile.
        (ex, again) => logger.Log(again ? LogLevel.Debug : LogLevel.Warning, ex, "The VM watch failed; it tries again every {Interval}", options.Value.VmWatchInterval),
        stoppingToken);
}
