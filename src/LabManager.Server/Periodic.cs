namespace LabManager.Server;

/// <summary>The Server's background loops: work on a timer, a failure logged and the next turn taken as usual.</summary>
internal static class Periodic
{
    /// <summary>
    /// Runs <paramref name="work"/> every <paramref name="interval"/> until <paramref name="stoppingToken"/> stops it. A failure is given to
    /// <paramref name="failed"/> with whether the turn before failed too (so an outage can be logged once).
    /// </summary>
    public static async Task EveryAsync(TimeSpan interval, TimeProvider time, Func<CancellationToken, Task> work, Action<Exception, bool> failed,
        CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        var failing = false;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await work(stoppingToken);
                failing = false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failed(ex, failing);
                failing = true;
            }
        }
    }
}
