using LabManager.Core.Costs;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace LabManager.Workflows.Instances;

/// <summary>
/// A change to persist on an instance. Null fields stay as they are. <see cref="At"/> is the orchestration's
/// clock, so a replayed or retried change writes the same values.
/// </summary>
public sealed record InstanceChange(Guid InstanceId, DateTimeOffset At)
{
    public LabInstanceStatus? Status { get; init; }

    /// <summary>What the learner is told with the status change.</summary>
    public string? Message { get; init; }

    /// <summary>The workflow's step (<see cref="Core.Realtime.LabsRealtime.StartSteps"/>), told live even without a status change.</summary>
    public string? Step { get; init; }

    public string? CloudInstanceId { get; init; }
    public string? PublicIp { get; init; }
    public string? InternalIp { get; init; }
    public string? AccessUrl { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public string? ErrorMessage { get; init; }
    public int? RestartCount { get; init; }
    public string? FirewallGroupId { get; init; }

    /// <summary>Every VM of the session so far (replaces the stored list).</summary>
    public IReadOnlyList<VmUsage>? Vms { get; init; }
}

/// <summary>Persists a change and tells the owner about a new status.</summary>
public sealed class UpdateInstanceActivity(IInstanceStore store, INotifier notifier, ILogger<UpdateInstanceActivity> logger)
    : TaskActivity<InstanceChange, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, InstanceChange input) => ExecuteAsync(input);

    /// <summary>
    /// The activity's work; any host (Durable Task worker or Functions trigger) calls this. Returns false when the session
    /// should wind down instead: the instance already ended, or a stop was asked for (its event may have been lost in a crash).
    /// </summary>
    public async Task<bool> ExecuteAsync(InstanceChange input)
    {
        var stored = await store.GetAsync(input.InstanceId) ?? throw new PermanentFailureException($"Instance {input.InstanceId} does not exist");
        var instance = stored;
        if (input.Status is { } status && status != instance.Status)
        {
            if (instance.Status.IsTerminal())
            {
                logger.LogWarning("Instance {InstanceId} already ended as {Status}; not moving it to {New}", instance.Id, instance.Status, status);
                return false;
            }

            instance = instance.MoveTo(status, input.At);
        }

        instance = instance with
        {
            CloudInstanceId = input.CloudInstanceId ?? instance.CloudInstanceId,
            PublicIp = input.PublicIp ?? instance.PublicIp,
            InternalIp = input.InternalIp ?? instance.InternalIp,
            AccessUrl = input.AccessUrl ?? instance.AccessUrl,
            StartedAt = input.StartedAt ?? instance.StartedAt,
            ExpiresAt = input.ExpiresAt ?? instance.ExpiresAt,
            ErrorMessage = input.ErrorMessage ?? instance.ErrorMessage,
            RestartCount = input.RestartCount ?? instance.RestartCount,
            Vms = input.Vms ?? instance.Vms,
            FirewallGroupId = input.FirewallGroupId ?? instance.FirewallGroupId,
        };
        // A change that only tells (a new step) writes nothing.
        if (instance != stored)
        {
            await store.UpdateAsync(instance);
        }

        if (input.Status is not null || input.ExpiresAt is not null || input.Step is not null)
        {
            logger.LogInformation("Instance {InstanceId} is {Status}: {Message}", instance.Id, instance.Status.ToWire(), input.Message ?? instance.ErrorMessage);
            await notifier.StatusChangedAsync(new LabStatusEvent(
                instance.UserId, instance.Id, instance.LabId, instance.Status, input.Message ?? instance.ErrorMessage, instance.AccessUrl, instance.ExpiresAt,
                input.Step));
            if (input.Status == LabInstanceStatus.Error)
            {
                await notifier.NotifyAsync(instance.UserId, new LabNotification("error", instance.ErrorMessage ?? "The lab failed", Metadata(instance)));
            }
        }

        return instance.StopRequestedAt is null || instance.Status == LabInstanceStatus.Stopping;
    }

    internal static Dictionary<string, string> Metadata(LabInstance instance) => new()
    {
        ["instanceId"] = instance.Id.ToString(),
        ["labId"] = instance.LabId.ToString(),
        ["expiresAt"] = instance.ExpiresAt?.ToString("o") ?? "",
    };
}

/// <summary>Input of <see cref="NotifyExpiryActivity"/>: the instance and when it expires.</summary>
public sealed record ExpiryWarning(Guid InstanceId, DateTimeOffset ExpiresAt, DateTimeOffset At);

/// <summary>Warns the learner that the lab expires soon (<c>lab:notification</c>, type <c>warning</c>).</summary>
public sealed class NotifyExpiryActivity(IInstanceStore store, INotifier notifier) : TaskActivity<ExpiryWarning, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, ExpiryWarning input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<bool> ExecuteAsync(ExpiryWarning input)
    {
        var instance = await store.GetAsync(input.InstanceId) ?? throw new PermanentFailureException($"Instance {input.InstanceId} does not exist");
        var minutes = Math.Max(1, (int)Math.Round((input.ExpiresAt - input.At).TotalMinutes));
        await notifier.NotifyAsync(instance.UserId, new LabNotification(
            "warning", $"Your lab expires in {minutes} minute{(minutes == 1 ? "" : "s")}; extend it to keep working", UpdateInstanceActivity.Metadata(instance)));
        return true;
    }
}

/// <summary>Input of <see cref="NotifyHealthActivity"/>.</summary>
public sealed record HealthNotice(Guid InstanceId, LabHealthReport Report);

/// <summary>
/// Tells the learner what the agent reported of their lab: a container restarted, the lab degraded (with Reset offered) or working again;
/// operators hear of a degraded lab too.
/// </summary>
public sealed class NotifyHealthActivity(IInstanceStore store, INotifier notifier) : TaskActivity<HealthNotice, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, HealthNotice input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<bool> ExecuteAsync(HealthNotice input)
    {
        var instance = await store.GetAsync(input.InstanceId) ?? throw new PermanentFailureException($"Instance {input.InstanceId} does not exist");
        var metadata = new Dictionary<string, string>(UpdateInstanceActivity.Metadata(instance)) { ["kind"] = input.Report.Kind };
        var type = input.Report.Kind == "degraded" ? "warning" : "info";
        await notifier.NotifyAsync(instance.UserId, new LabNotification(type, input.Report.Message, metadata));
        if (input.Report.Kind == "degraded")
        {
            await notifier.NotifyOperatorsAsync(new LabNotification("warning", $"Instance {instance.Id} is degraded: {input.Report.Message}", metadata));
        }

        return true;
    }
}

/// <summary>Input of <see cref="RecordProgressActivity"/>. <see cref="Outcome"/> null means the lab just started.</summary>
public sealed record ProgressInput(Guid InstanceId, DateTimeOffset At, string? Outcome = null);

/// <summary>
/// Records "lab started" and "lab ended" for the learner; the session's VM time and cost come from the instance's VMs (every one a
/// reset made), the same figures the operator view shows.
/// </summary>
public sealed class RecordProgressActivity(IInstanceStore store, ILabCatalog catalog, ILearningTracker tracker)
    : TaskActivity<ProgressInput, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, ProgressInput input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<bool> ExecuteAsync(ProgressInput input)
    {
        var instance = await store.GetAsync(input.InstanceId) ?? throw new PermanentFailureException($"Instance {input.InstanceId} does not exist");
        if (input.Outcome is null)
        {
            await tracker.LabStartedAsync(instance.UserId, instance.LabId, instance.Id, input.At);
            return true;
        }

        var lab = await catalog.GetAsync(instance.LabId, instance.LabVersion);
        var cost = lab is null ? null : SessionCost.ForVms(lab.Plan, instance.Vms, input.At);
        var total = instance.Vms.Aggregate(TimeSpan.Zero, (sum, vm) => sum + ((vm.DestroyedAt ?? input.At) - vm.CreatedAt));
        await tracker.LabEndedAsync(new LabSessionSummary(instance.UserId, instance.LabId, instance.Id, input.Outcome, instance.StartedAt, input.At, total, cost));
        return true;
    }
}
