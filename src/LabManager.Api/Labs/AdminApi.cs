using System.Globalization;
using LabManager.Api.Http;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Labs;

/// <summary>Area <c>admin</c>: operators' view of every instance, force stops, reconciliation and activity.</summary>
public sealed class AdminApi(
    ILabCatalog catalog,
    IInstanceStore instances,
    IPoolStore pools,
    PoolKeepers keepers,
    InstancesApi learnerInstances,
    IReconciler reconciler,
    IReconciliationLog reconciliationLog,
    ILabHealthStore health,
    ILearningProgress progress,
    IOptions<ApiOptions> options,
    TimeProvider time)
{
    /// <summary>
    /// Body of <c>PUT /api/admin/labs/{id}/pool</c>; <c>max</c> 0 removes the pool. <c>warmUps</c>: classes, each <c>count</c> VMs ready
    /// at <c>at</c> and kept until <c>until</c>.
    /// </summary>
    public sealed record PoolBody(int? Min, int? Max, int? MaxAgeMinutes, List<PoolWarmUp>? WarmUps);

    /// <summary>Sets a lab's warm pool, checked against the global quota; its keeper is started or woken to apply it now.</summary>
    public async Task<ApiResult> SetPoolAsync(ApiRequest request, CancellationToken ct)
    {
        var body = request.BodyAs<PoolBody>();
        if (body is not { Min: { } min, Max: { } max })
        {
            return ApiResult.BadRequest("min and max are required", ["min", "max"]);
        }

        var pool = new LabPool(min, max, body.MaxAgeMinutes ?? LabPool.DefaultMaxAgeMinutes) { WarmUps = body.WarmUps ?? [] };
        if (pool.Problems(options.Value.MaxGlobalInstances) is { Count: > 0 } problems)
        {
            return ApiResult.BadRequest(string.Join("; ", problems), problems);
        }

        if (await catalog.GetAsync(request.Id, ct) is not { } lab || !await pools.SetPoolAsync(lab.Id, max == 0 ? null : pool, ct))
        {
            return ApiResult.NotFound("Lab");
        }

        await keepers.WakeAsync(lab.Id, ct);
        var counts = await pools.CountsAsync(lab.Id, time.GetUtcNow() - TimeSpan.FromHours(1), ct);
        return ApiResult.Ok(PoolView.From(lab with { Pool = max == 0 ? null : pool }, counts), max == 0 ? "Pool removed" : "Pool set");
    }

    /// <summary>Every lab's pool that is set or still holds VMs.</summary>
    public async Task<ApiResult> PoolsAsync(ApiRequest request, CancellationToken ct)
    {
        var since = time.GetUtcNow() - TimeSpan.FromHours(1);
        var views = new List<PoolView>();
        foreach (var lab in await catalog.ListAsync(ct))
        {
            var counts = await pools.CountsAsync(lab.Id, since, ct);
            if (lab.Pool is not null || counts.Ready + counts.Booting > 0)
            {
                views.Add(PoolView.From(lab, counts));
            }
        }

        return ApiResult.Ok(views);
    }

    public async Task<ApiResult> AdminListInstancesAsync(ApiRequest request, CancellationToken ct)
    {
        var activeOnly = request.QueryValue("all") is not ("true" or "1");
        var labs = (await catalog.ListAsync(ct)).ToDictionary(l => l.Id);
        var listed = await instances.ListAsync(activeOnly, 1000, ct);
        var users = await instances.UserNamesAsync([.. listed.Select(i => i.UserId).Distinct()], ct);
        var agents = await health.SummariesAsync([.. listed.Select(i => i.Id)], ct);
        var now = time.GetUtcNow();
        return ApiResult.Ok(listed.Select(i => InstanceView.ForOperator(i, labs.GetValueOrDefault(i.LabId), users.GetValueOrDefault(i.UserId), now)
            with { Agent = agents.GetValueOrDefault(i.Id) }).ToList());
    }

    /// <summary>Learners who answered with another learner's flag, over the last day, newest first.</summary>
    public async Task<ApiResult> SharedFlagsAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok(await progress.SharedFlagSignalsAsync(time.GetUtcNow() - TimeSpan.FromDays(1), 200, ct));

    /// <summary>Active instances minute by minute over the last <c>minutes</c> (default 60, at most a day).</summary>
    public async Task<ApiResult> AdminActivityAsync(ApiRequest request, CancellationToken ct)
    {
        var minutes = 60;
        if (request.QueryValue("minutes") is { Length: > 0 } m && (!int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out minutes) || minutes is < 5 or > 1440))
        {
            return ApiResult.BadRequest("minutes must be a whole number from 5 to 1440");
        }

        var step = TimeSpan.FromMinutes(1);
        var to = time.GetUtcNow();
        var from = to - minutes * step;
        return ApiResult.Ok(new ActivityView(from, (int)step.TotalSeconds, await instances.ActiveCountsAsync(from, step, minutes + 1, ct)));
    }

    public Task<ApiResult> AdminStopAsync(ApiRequest request, CancellationToken ct) =>
        learnerInstances.WithInstanceAsync(request, admin: true, instance => learnerInstances.StopInstanceAsync(instance, "admin", ct), ct);

    public async Task<ApiResult> AdminCleanupAsync(ApiRequest request, CancellationToken ct) =>
        await reconciler.RunAsync(ct) is { } report
            ? ApiResult.Ok(report, "Reconciliation ran")
            : ApiResult.Conflict("A reconciliation is already running; try again shortly");

    public async Task<ApiResult> AdminReconciliationRunsAsync(ApiRequest request, CancellationToken ct) =>
        ApiResult.Ok(await reconciliationLog.RecentAsync(20, ct));
}
