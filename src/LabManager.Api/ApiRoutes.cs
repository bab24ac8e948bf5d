using LabManager.Api.Http;
using LabManager.Api.Labs;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
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

/// <summary>
/// One route: its area (<c>labs</c>, <c>instances</c>, <c>progress</c>, <c>admin</c>), method, ASP.NET-style pattern, a name (the
/// Functions app's function name), who may call it, its handler, and its shapes for the OpenAPI document: the request body, the
/// envelope's <c>data</c> on success, and the statuses it answers.
/// </summary>
public sealed record ApiRoute(string Area, string Method, string Pattern, string Name, RouteAccess Access, Func<IServiceProvider, ApiRequest, CancellationToken, Task<ApiResult>> Handle)
{
    public Type? Body { get; init; }

    /// <summary>What the route's <c>{id}</c> names (<c>instance</c> or <c>lab</c>), or null without one; the edge checks it is a UUID.</summary>
    public string? IdOf => !Pattern.Contains("{id}", StringComparison.Ordinal) ? null
        : Pattern.Contains("/instances/{id}", StringComparison.Ordinal) ? "instance" : "lab";

    public int Success { get; init; } = 200;

    /// <summary>The largest body the route reads.</summary>
    public int MaxBody { get; init; } = Http.ApiRequest.MaxBodyBytes;

    public Type? Data { get; init; }

    /// <summary>Also answers as server-sent events to a caller that accepts <c>text/event-stream</c>.</summary>
    public bool Streams { get; init; }

    /// <summary>Statuses particular to this route (quota 409, 429, 503 …); <see cref="Statuses"/> adds those every such route has.</summary>
    public IReadOnlyList<int> Refusals { get; init; } = [];

    /// <summary>Every status the route answers: success, then refusals in order.</summary>
    public IReadOnlyList<int> Statuses =>
    [
        .. new[] { Success }
            .Concat(Pattern.Contains('{') || Body is not null ? [400] : [])
            .Concat(Access == RouteAccess.Public ? [] : [401])
            .Concat(Access == RouteAccess.Operator ? [403] : [])
            .Concat(Pattern.Contains('{') ? [404] : [])
            .Concat(Method is "POST" or "PUT" ? [413] : [])
            .Concat(Refusals)
            .Distinct()
            .Order(),
    ];
}

/// <summary>Every HTTP route of the API, by area. Both hosts map exactly this list.</summary>
public static class ApiRoutes
{
    public static readonly IReadOnlyList<ApiRoute> All =
    [
        Labs("GET", "/api/labs", "ListLabs", RouteAccess.Public, (api, r, ct) => api.ListLabsAsync(r, ct)) with { Data = typeof(List<LabView>) },
        Labs("GET", "/api/labs/{id}", "GetLab", RouteAccess.OptionalToken, (api, r, ct) => api.GetLabAsync(r, ct)) with { Data = typeof(LabDetailView) },
        Labs("POST", "/api/labs/{id}/start", "StartLab", RouteAccess.Learner, (api, r, ct) => api.StartLabAsync(r, ct))
            with { Body = typeof(LabsApi.StartBody), Success = 201, Data = typeof(InstanceView), Refusals = [200, 409, 429, 503] },
        Labs("GET", "/api/features", "Features", RouteAccess.Public, (api, r, ct) => api.FeaturesAsync(r, ct)) with { Data = typeof(FeaturesView) },
        Labs("POST", "/api/dev/token", "DevToken", RouteAccess.Public, (api, r, ct) => api.DevTokenAsync(r, ct))
            with { Body = typeof(LabsApi.DevTokenBody), Data = typeof(DevTokenView), Refusals = [404] },

        Instances("GET", "/api/labs/instances/list", "ListInstances", RouteAccess.Learner, (api, r, ct) => api.ListInstancesAsync(r, ct)) with { Data = typeof(List<InstanceView>) },
        Instances("GET", "/api/labs/instances/{id}", "GetInstance", RouteAccess.Learner, (api, r, ct) => api.GetInstanceAsync(r, ct)) with { Data = typeof(InstanceView) },
        Instances("POST", "/api/labs/instances/{id}/stop", "StopInstance", RouteAccess.Learner, (api, r, ct) => api.StopAsync(r, ct))
            with { Success = 202, Data = typeof(InstanceView), Refusals = [409] },
        Instances("POST", "/api/labs/instances/{id}/restart", "RestartInstance", RouteAccess.Learner, (api, r, ct) => api.RestartAsync(r, ct))
            with { Success = 202, Data = typeof(InstanceView), Refusals = [409, 429] },
        Instances("POST", "/api/labs/instances/{id}/reset", "ResetInstance", RouteAccess.Learner, (api, r, ct) => api.ResetAsync(r, ct))
            with { Success = 202, Data = typeof(InstanceView), Refusals = [409, 429] },
        Instances("POST", "/api/labs/instances/{id}/extend", "ExtendInstance", RouteAccess.Learner, (api, r, ct) => api.ExtendAsync(r, ct))
            with { Body = typeof(InstancesApi.ExtendBody), Success = 202, Data = typeof(InstanceView), Refusals = [409, 429] },
        Instances("POST", "/api/labs/instances/{id}/access", "OpenInstance", RouteAccess.Learner, (api, r, ct) => api.AccessAsync(r, ct))
            with { Data = typeof(AccessView), Refusals = [409, 429, 503] },
        Instances("POST", "/api/labs/instances/{id}/activity", "KeepInstanceAlive", RouteAccess.Learner, (api, r, ct) => api.KeepAliveAsync(r, ct))
            with { Success = 202, Refusals = [409] },
        Instances("POST", "/api/labs/instances/{id}/ready", "LabReady", RouteAccess.Public, (api, r, ct) => api.LabReadyAsync(r, ct)) with { Success = 202 },
        Instances("POST", "/api/labs/instances/{id}/heartbeat", "LabHeartbeat", RouteAccess.Public, (api, r, ct) => api.HeartbeatAsync(r, ct))
            with { Body = typeof(HeartbeatBody), MaxBody = HeartbeatBody.MaxBodyBytes, Success = 202, Refusals = [429] },
        Instances("GET", "/api/labs/instances/{id}/stats", "InstanceStats", RouteAccess.Learner, (api, r, ct) => api.StatsAsync(r, ct)) with { Data = typeof(InstanceHealth) },
        Instances("GET", "/api/labs/instances/{id}/logs", "InstanceLogs", RouteAccess.Learner, (api, r, ct) => api.LogsAsync(r, ct)) with { Data = typeof(LogsView) },
        Instances("GET", "/api/users/me/stats", "MyStats", RouteAccess.Learner, (api, r, ct) => api.MyStatsAsync(r, ct)) with { Data = typeof(UserStats) },

        Progress("GET", "/api/labs/{id}/progress", "LabProgress", RouteAccess.Learner, (api, r, ct) => api.LabProgressAsync(r, ct)) with { Data = typeof(LabProgress) },
        Progress("POST", "/api/labs/{id}/exercises/{exerciseId}/submit", "SubmitAnswer", RouteAccess.Learner, (api, r, ct) => api.SubmitAsync(r, ct))
            with { Body = typeof(ProgressApi.SubmitBody), Data = typeof(SubmissionOutcome.Recorded), Refusals = [409, 429] },
        Progress("POST", "/api/labs/{id}/exercises/{exerciseId}/hints/{hintId}", "RevealHint", RouteAccess.Learner, (api, r, ct) => api.RevealHintAsync(r, ct))
            with { Data = typeof(HintReveal) },
        Progress("POST", "/api/labs/{id}/tutor", "AskTutor", RouteAccess.Learner, (api, r, ct) => api.AskTutorAsync(r, ct))
            with { Body = typeof(ProgressApi.TutorBody), Data = typeof(TutorAnswerView), Refusals = [429, 502, 503], Streams = true },
        Progress("GET", "/api/users/me/progress", "MyProgress", RouteAccess.Learner, (api, r, ct) => api.MyProgressAsync(r, ct)) with { Data = typeof(UserProgress) },

        Admin("GET", "/api/admin/instances", "AdminListInstances", RouteAccess.Operator, (api, r, ct) => api.AdminListInstancesAsync(r, ct)) with { Data = typeof(List<InstanceView>) },
        Admin("POST", "/api/admin/instances/{id}/stop", "AdminStopInstance", RouteAccess.Operator, (api, r, ct) => api.AdminStopAsync(r, ct))
            with { Success = 202, Data = typeof(InstanceView), Refusals = [409] },
        Admin("POST", "/api/admin/cleanup", "AdminCleanup", RouteAccess.Operator, (api, r, ct) => api.AdminCleanupAsync(r, ct))
            with { Data = typeof(ReconciliationReport), Refusals = [409] },
        Admin("GET", "/api/admin/activity", "AdminActivity", RouteAccess.Operator, (api, r, ct) => api.AdminActivityAsync(r, ct)) with { Data = typeof(ActivityView), Refusals = [400] },
        Admin("GET", "/api/admin/reconciliation", "AdminReconciliationRuns", RouteAccess.Operator, (api, r, ct) => api.AdminReconciliationRunsAsync(r, ct))
            with { Data = typeof(List<ReconciliationReport>) },
        Admin("PUT", "/api/admin/labs/{id}/pool", "AdminSetPool", RouteAccess.Operator, (api, r, ct) => api.SetPoolAsync(r, ct))
            with { Body = typeof(AdminApi.PoolBody), Data = typeof(PoolView) },
        Admin("GET", "/api/admin/flag-signals", "AdminSharedFlags", RouteAccess.Operator, (api, r, ct) => api.SharedFlagsAsync(r, ct)) with { Data = typeof(List<SharedFlagSignal>) },
        Admin("GET", "/api/admin/pools", "AdminPools", RouteAccess.Operator, (api, r, ct) => api.PoolsAsync(r, ct)) with { Data = typeof(List<PoolView>) },

        Catalog("GET", "/api/admin/labs", "AdminListLabs", (api, r, ct) => api.ListAsync(r, ct)) with { Data = typeof(List<CatalogLabView>) },
        Catalog("POST", "/api/admin/labs", "AdminCreateLab", (api, r, ct) => api.CreateAsync(r, ct))
            with { Body = typeof(Lab), MaxBody = CatalogApi.MaxLabBytes, Success = 201, Data = typeof(CatalogSaveView), Refusals = [409, 503] },
        Catalog("POST", "/api/admin/labs/validate", "AdminValidateLab", (api, r, ct) => api.ValidateAsync(r, ct))
            with { Body = typeof(Lab), MaxBody = CatalogApi.MaxLabBytes, Data = typeof(CatalogCheckView), Refusals = [503] },
        Catalog("GET", "/api/admin/labs/export", "AdminExportLabs", (api, r, ct) => api.ExportAsync(r, ct)) with { Refusals = [400] },
        Catalog("GET", "/api/admin/labs/{id}", "AdminGetLab", (api, r, ct) => api.GetAsync(r, ct)) with { Data = typeof(CatalogLabDetail) },
        Catalog("PUT", "/api/admin/labs/{id}", "AdminUpdateLab", (api, r, ct) => api.UpdateAsync(r, ct))
            with { Body = typeof(Lab), MaxBody = CatalogApi.MaxLabBytes, Data = typeof(CatalogSaveView), Refusals = [409, 503] },
        Catalog("DELETE", "/api/admin/labs/{id}", "AdminDeleteLab", (api, r, ct) => api.DeleteAsync(r, ct)) with { Data = typeof(DeleteOutcome), Refusals = [202, 409] },
        Catalog("POST", "/api/admin/labs/{id}/activate", "AdminActivateLab", (api, r, ct) => api.ActivateAsync(r, ct)) with { Data = typeof(CatalogLabDetail), Refusals = [409] },
        Catalog("POST", "/api/admin/labs/{id}/deactivate", "AdminDeactivateLab", (api, r, ct) => api.DeactivateAsync(r, ct)) with { Data = typeof(CatalogLabDetail), Refusals = [409] },
        Catalog("GET", "/api/admin/labs/{id}/versions", "AdminLabVersions", (api, r, ct) => api.VersionsAsync(r, ct)) with { Data = typeof(List<LabVersionInfo>) },
        Catalog("GET", "/api/admin/labs/{id}/versions/{version}", "AdminLabVersion", (api, r, ct) => api.VersionAsync(r, ct)) with { Data = typeof(LabVersionView) },
        Catalog("POST", "/api/admin/labs/{id}/versions/{version}/rollback", "AdminRollbackLab", (api, r, ct) => api.RollbackAsync(r, ct))
            with { Data = typeof(CatalogSaveView), Refusals = [409, 503] },
    ];

    private static ApiRoute Labs(string method, string pattern, string name, RouteAccess access, Func<LabsApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        Route("labs", method, pattern, name, access, handle);

    private static ApiRoute Instances(string method, string pattern, string name, RouteAccess access, Func<InstancesApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        Route("instances", method, pattern, name, access, handle);

    private static ApiRoute Progress(string method, string pattern, string name, RouteAccess access, Func<ProgressApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        Route("progress", method, pattern, name, access, handle);

    private static ApiRoute Admin(string method, string pattern, string name, RouteAccess access, Func<AdminApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        Route("admin", method, pattern, name, access, handle);

    private static ApiRoute Catalog(string method, string pattern, string name, Func<CatalogApi, ApiRequest, CancellationToken, Task<ApiResult>> handle) =>
        Route("admin", method, pattern, name, RouteAccess.Operator, handle);

    private static ApiRoute Route<TApi>(string area, string method, string pattern, string name, RouteAccess access, Func<TApi, ApiRequest, CancellationToken, Task<ApiResult>> handle)
        where TApi : notnull =>
        new(area, method, pattern, name, access, (services, r, ct) => handle(services.GetRequiredService<TApi>(), r, ct));
}
