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

        using var timer = new PeriodicTimer(options.Value.Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await watch.RunAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Looking for silent agents failed; it looks again in {Interval}", options.Value.Interval);
            }
        }
    }
}
