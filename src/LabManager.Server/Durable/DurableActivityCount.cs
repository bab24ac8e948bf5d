using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LabManager.Server.Durable;

/// <summary>
/// Counts the activity executions this process's Durable Task worker runs (its <c>activity:</c> spans), as the
/// <c>labmanager.durable.activities</c> counter: what the workflows cost the engine, whichever engine it is.
/// </summary>
public sealed class DurableActivityCount : IDisposable
{
    private readonly ActivityListener _listener;
    private long _count;

    public DurableActivityCount(IMeterFactory? meters = null)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.DurableTask",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
            ActivityStopped = span =>
            {
                if (span.Kind == ActivityKind.Server && span.OperationName.StartsWith("activity:", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _count);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
        meters?.Create(Workflows.Reconciliation.LabMetrics.MeterName)
            .CreateObservableCounter("labmanager.durable.activities", () => Count, "{activity}", "Activity executions the Durable Task worker ran");
    }

    public long Count => Interlocked.Read(ref _count);

    public void Dispose() => _listener.Dispose();
}
