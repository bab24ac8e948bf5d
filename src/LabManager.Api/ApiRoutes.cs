using LabManager.Api.Http;
using LabManager.Api.Labs;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Api;

/// <summary>One route: method, ASP.NET-style pattern, a name (the Functions app's function name), and its handler.</summary>
public sealed record ApiRoute(string Method, string Pattern, string Name, Func<IServiceProvider, ApiRequest, CancellationToken, Task<ApiResult>> Handle);

/// <summary>Every HTTP route of the API. Both hosts map exactly this list.</summary>
public static class ApiRoutes
{
    public static readonly IReadOnlyList<ApiRoute> All =
    [
        Lab("GET", "/api/labs", "ListLabs", (api, r, ct) => api.ListLabsAsync(r, ct)),
        Lab("GET", "/api/labs/instances/list", "ListInstances", (api, r, ct) => api.ListInstancesAsync(r, ct)),
        Lab("GET", "/api/labs/instances/{id}", "GetInstance", (api, r, ct) => api.GetInstanceAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/stop", "StopInstance", (api, r, ct) => api.StopAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/restart", "RestartInstance", (api, r, ct) => api.RestartAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/reset", "ResetInstance", (api, r, ct) => api.ResetAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/extend", "ExtendInstance", (api, r, ct) => api.ExtendAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/ready", "LabReady", (api, r, ct) => api.LabReadyAsync(r, ct)),
        Lab("GET", "/api/labs/{id}", "GetLab", (api, r, ct) => api.GetLabAsync(r, ct)),
        Lab("POST", "/api/labs/{id}/start", "StartLab", (api, r, ct) => api.StartLabAsync(r, ct)),
        Lab("GET", "/api/users/me/stats", "MyStats", (api, r, ct) => api.MyStatsAsync(r, ct)),
        Lab("GET", "/api/admin/instances", "AdminListInstances", (api, r, ct) => api.AdminListInstancesAsync(r, ct)),
        Lab("POST", "/api/admin/instances/{id}/stop", "AdminStopInstance", (api, r, ct) => api.AdminStopAsync(r, ct)),
        Lab("POST", "/api/admin/cleanup", "AdminCleanup", (api, r, ct) => api.AdminCleanupAsync(r, ct)),
        Lab("GET", "/api/admin/activity", "AdminActivity", (api, r, ct) => api.AdminActivityAsync(r, ct)),
        Lab("GET", "/api/admin/reconciliation", "AdminReconciliationRuns", (api, r, ct) => api.AdminReconciliationRunsAsync(r, ct)),
        Lab("GET", "/api/features", "Features", (api, r, ct) => api.FeaturesAsync(r, ct)),
        Lab("POST", "/api/dev/token", "DevToken", (api, r, ct) => api.DevTokenAsync(r, ct)),
        Progress("GET", "/api/labs/{id}/progress", "LabProgress", (api, r, ct) => api.LabProgressAsync(r, ct)),
        Progress("POST", "/api/labs/{id}/exercises/{exerciseId}/submit", "SubmitAnswer", (api, r, ct) => api.SubmitAsync(r, ct)),
        Progress("POST", "/api/labs/{id}/exercises/{exerciseId}/hints/{hintId}", "RevealHint", (api, r, ct) => api.RevealHintAsync(r, ct)),
        Progress("POST", "/api/labs/{id}/tutor", "AskTutor", (api, r, ct) => api.AskTutorAsync(r, ct)),
        Progress("GET", "/api/users/me/progress", "MyProgress", (api, r, ct) => api.MyProgressAsync(r, ct)),
    ];

    private static ApiRoute Lab(string method, string pattern, string name, Func<LabApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        new(method, pattern, name, (services, r, ct) => handle(services.GetRequiredService<LabApi>(), r, ct));

    private static ApiRoute Progress(string method, string pattern, string name, Func<ProgressApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        new(method, pattern, name, (services, r, ct) => handle(services.GetRequiredService<ProgressApi>(), r, ct));
}
