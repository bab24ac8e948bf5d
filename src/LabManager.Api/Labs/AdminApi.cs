using System.Globalization;
using LabManager.Api.Http;
using LabManager.Core.Ports;

namespace LabManager.Api.Labs;

/// <summary>Area <c>admin</c>: operators' view of every instance, force stops, reconciliation and activity.</summary>
public sealed class AdminApi(
    ILabCatalog catalog,
    IInstanceStore instances,
    InstancesApi learnerInstances,
    IReconciler reconciler,
    IReconciliationLog reconciliationLog,
    TimeProvider time)
{
    public async Task<ApiResult> AdminListInstancesAsync(ApiRequest request, CancellationToken ct)
    {
        var activeOnly = request.QueryValue("all") is not ("true" or "1");
        var labs = (await catalog.ListAsync(ct)).ToDictionary(l => l.Id);
        var listed = await instances.ListAsync(activeOnly, 1000, ct);
        var users = await instances.UserNamesAsync([.. listed.Select(i => i.UserId).Distinct()], ct);
        var now = time.GetUtcNow();
        return ApiResult.Ok(listed.Select(i => InstanceView.ForOperator(i, labs.GetValueOrDefault(i.LabId), users.GetValueOrDefault(i.UserId), now)).ToList());
    }

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
