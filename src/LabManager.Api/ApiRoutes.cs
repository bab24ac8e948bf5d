using LabManager.Api.Http;
using LabManager.Api.Labs;

namespace LabManager.Api;

/// <summary>One route: method, ASP.NET-style pattern, a name (the Functions app's function name), and its handler.</summary>
public sealed record ApiRoute(string Method, string Pattern, string Name, Func<LabApi, ApiRequest, CancellationToken, Task<ApiResult>> Handle);

/// <summary>Every HTTP route of the API. Both hosts map exactly this list.</summary>
public static class ApiRoutes
{
    public static readonly IReadOnlyList<ApiRoute> All =
    [
        new("GET", "/api/labs", "ListLabs", (api, r, ct) => api.ListLabsAsync(r, ct)),
        new("GET", "/api/labs/instances/list", "ListInstances", (api, r, ct) => api.ListInstancesAsync(r, ct)),
        new("GET", "/api/labs/instances/{id}", "GetInstance", (api, r, ct) => api.GetInstanceAsync(r, ct)),
        new("POST", "/api/labs/instances/{id}/stop", "StopInstance", (api, r, ct) => api.StopAsync(r, ct)),
        new("POST", "/api/labs/instances/{id}/restart", "RestartInstance", (api, r, ct) => api.RestartAsync(r, ct)),
        new("POST", "/api/labs/instances/{id}/reset", "ResetInstance", (api, r, ct) => api.ResetAsync(r, ct)),
        new("POST", "/api/labs/instances/{id}/extend", "ExtendInstance", (api, r, ct) => api.ExtendAsync(r, ct)),
        new("GET", "/api/labs/{id}", "GetLab", (api, r, ct) => api.GetLabAsync(r, ct)),
        new("POST", "/api/labs/{id}/start", "StartLab", (api, r, ct) => api.StartLabAsync(r, ct)),
        new("GET", "/api/users/me/stats", "MyStats", (api, r, ct) => api.MyStatsAsync(r, ct)),
        new("GET", "/api/admin/instances", "AdminListInstances", (api, r, ct) => api.AdminListInstancesAsync(r, ct)),
        new("POST", "/api/admin/instances/{id}/stop", "AdminStopInstance", (api, r, ct) => api.AdminStopAsync(r, ct)),
        new("POST", "/api/admin/cleanup", "AdminCleanup", (api, r, ct) => api.AdminCleanupAsync(r, ct)),
        new("GET", "/api/admin/reconciliation", "AdminReconciliationRuns", (api, r, ct) => api.AdminReconciliationRunsAsync(r, ct)),
        new("POST", "/api/dev/token", "DevToken", (api, r, ct) => api.DevTokenAsync(r, ct)),
    ];
}
