using LabManager.Api.Http;
using LabManager.Api.Labs;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Api;

/// <summary>Who may call a route: anyone, anyone (a token, when sent, must be valid), a signed-in learner, or an operator.</summary>
public enum RouteAccess
{
    Public,
    OptionalToken,
    Learner,
    Operator,
}

/// <summary>One route: method, ASP.NET-style pattern, a name (the Functions app's function name), who may call it, and its handler.</summary>
public sealed record ApiRoute(string Method, string Pattern, string Name, RouteAccess Access, Func<IServiceProvider, ApiRequest, CancellationToken, Task<ApiResult>> Handle);

/// <summary>Every HTTP route of the API. Both hosts map exactly this list.</summary>
public static class ApiRoutes
{
    public static readonly IReadOnlyList<ApiRoute> All =
    [
        Lab("GET", "/api/labs", "ListLabs", RouteAccess.Public, (api, r, ct) => api.ListLabsAsync(r, ct)),
        Lab("GET", "/api/labs/instances/list", "ListInstances", RouteAccess.Learner, (api, r, ct) => api.ListInstancesAsync(r, ct)),
        Lab("GET", "/api/labs/instances/{id}", "GetInstance", RouteAccess.Learner, (api, r, ct) => api.GetInstanceAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/stop", "StopInstance", RouteAccess.Learner, (api, r, ct) => api.StopAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/restart", "RestartInstance", RouteAccess.Learner, (api, r, ct) => api.RestartAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/reset", "ResetInstance", RouteAccess.Learner, (api, r, ct) => api.ResetAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/extend", "ExtendInstance", RouteAccess.Learner, (api, r, ct) => api.ExtendAsync(r, ct)),
        Lab("POST", "/api/labs/instances/{id}/ready", "LabReady", RouteAccess.Public, (api, r, ct) => api.LabReadyAsync(r, ct)),
        Lab("GET", "/api/labs/{id}", "GetLab", RouteAccess.OptionalToken, (api, r, ct) => api.GetLabAsync(r, ct)),
        Lab("POST", "/api/labs/{id}/start", "StartLab", RouteAccess.Learner, (api, r, ct) => api.StartLabAsync(r, ct)),
        Lab("GET", "/api/users/me/stats", "MyStats", RouteAccess.Learner, (api, r, ct) => api.MyStatsAsync(r, ct)),
        Lab("GET", "/api/admin/instances", "AdminListInstances", RouteAccess.Operator, (api, r, ct) => api.AdminListInstancesAsync(r, ct)),
        Lab("POST", "/api/admin/instances/{id}/stop", "AdminStopInstance", RouteAccess.Operator, (api, r, ct) => api.AdminStopAsync(r, ct)),
        Lab("POST", "/api/admin/cleanup", "AdminCleanup", RouteAccess.Operator, (api, r, ct) => api.AdminCleanupAsync(r, ct)),
        Lab("GET", "/api/admin/activity", "AdminActivity", RouteAccess.Operator, (api, r, ct) => api.AdminActivityAsync(r, ct)),
        Lab("GET", "/api/admin/reconciliation", "AdminReconciliationRuns", RouteAccess.Operator, (api, r, ct) => api.AdminReconciliationRunsAsync(r, ct)),
        Lab("GET", "/api/features", "Features", RouteAccess.Public, (api, r, ct) => api.FeaturesAsync(r, ct)),
        Lab("POST", "/api/dev/token", "DevToken", RouteAccess.Public, (api, r, ct) => api.DevTokenAsync(r, ct)),
        Progress("GET", "/api/labs/{id}/progress", "LabProgress", RouteAccess.Learner, (api, r, ct) => api.LabProgressAsync(r, ct)),
        Progress("POST", "/api/labs/{id}/exercises/{exerciseId}/submit", "SubmitAnswer", RouteAccess.Learner, (api, r, ct) => api.SubmitAsync(r, ct)),
        Progress("POST", "/api/labs/{id}/exercises/{exerciseId}/hints/{hintId}", "RevealHint", RouteAccess.Learner, (api, r, ct) => api.RevealHintAsync(r, ct)),
        Progress("POST", "/api/labs/{id}/tutor", "AskTutor", RouteAccess.Learner, (api, r, ct) => api.AskTutorAsync(r, ct)),
        Progress("GET", "/api/users/me/progress", "MyProgress", RouteAccess.Learner, (api, r, ct) => api.MyProgressAsync(r, ct)),
    ];

    private static ApiRoute Lab(string method, string pattern, string name, RouteAccess access, Func<LabApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        new(method, pattern, name, access, (services, r, ct) => handle(services.GetRequiredService<LabApi>(), r, ct));

    private static ApiRoute Progress(string method, string pattern, string name, RouteAccess access, Func<ProgressApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        new(method, pattern, name, access, (services, r, ct) => handle(services.GetRequiredService<ProgressApi>(), r, ct));
}
