using LabManager.Api.Labs;
using LabManager.Core.Instances;
using Microsoft.Extensions.Options;

namespace LabManager.Server;

/// <summary>Runs <see cref="AgentWatch"/> every <c>Agent:Interval</c> (none when the agent is off).</summary>
public sealed class AgentWatchService(AgentWatch watch, IOptions<AgentOptions> options, TimeProvider time, ILogger<AgentWatchService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.Interval <= TimeSpan.Zero)
        {
            return;
        }

        await Periodic.EveryAsync(options.Value.Interval, time, watch.RunAsync,
            (ex, _) => logger.LogError(ex, "Looking for silent agents failed; it looks again in {Interval}", options.Value.Interval), stoppingToken);
    }
}
