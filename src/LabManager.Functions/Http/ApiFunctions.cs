using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace LabManager.Functions.Http;

/// <summary>
/// One HTTP trigger per entry of <see cref="Api.ApiRoutes"/>, same name, method and route; each only hands over to the API.
/// Authentication is the API's own (JWT), so the triggers are anonymous at the Functions level.
/// </summary>
public static class ApiFunctions
{
    [Function("ListLabs")]
    public static Task<IActionResult> ListLabs(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "labs")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("ListLabs", request, client);

    [Function("ListInstances")]
    public static Task<IActionResult> ListInstances(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "labs/instances/list")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("ListInstances", request, client);

    [Function("GetInstance")]
    public static Task<IActionResult> GetInstance(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "labs/instances/{id}")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("GetInstance", request, client);

    [Function("StopInstance")]
    public static Task<IActionResult> StopInstance(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/instances/{id}/stop")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("StopInstance", request, client);

    [Function("RestartInstance")]
    public static Task<IActionResult> RestartInstance(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/instances/{id}/restart")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("RestartInstance", request, client);

    [Function("ResetInstance")]
    public static Task<IActionResult> ResetInstance(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/instances/{id}/reset")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("ResetInstance", request, client);

    [Function("ExtendInstance")]
    public static Task<IActionResult> ExtendInstance(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/instances/{id}/extend")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("ExtendInstance", request, client);

    [Function("OpenInstance")]
    public static Task<IActionResult> OpenInstance(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/instances/{id}/access")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("OpenInstance", request, client);

    [Function("KeepInstanceAlive")]
    public static Task<IActionResult> KeepInstanceAlive(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/instances/{id}/activity")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("KeepInstanceAlive", request, client);

    [Function("LabReady")]
    public static Task<IActionResult> LabReady(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/instances/{id}/ready")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("LabReady", request, client);

    [Function("GetLab")]
    public static Task<IActionResult> GetLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "labs/{id}")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("GetLab", request, client);

    [Function("StartLab")]
    public static Task<IActionResult> StartLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/{id}/start")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("StartLab", request, client);

    [Function("MyStats")]
    public static Task<IActionResult> MyStats(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "users/me/stats")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("MyStats", request, client);

    [Function("AdminListInstances")]
    public static Task<IActionResult> AdminListInstances(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/instances")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminListInstances", request, client);

    [Function("AdminStopInstance")]
    public static Task<IActionResult> AdminStopInstance(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "admin/instances/{id}/stop")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminStopInstance", request, client);

    [Function("AdminCleanup")]
    public static Task<IActionResult> AdminCleanup(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "admin/cleanup")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminCleanup", request, client);

    [Function("AdminReconciliationRuns")]
    public static Task<IActionResult> AdminReconciliationRuns(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/reconciliation")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminReconciliationRuns", request, client);

    [Function("AdminActivity")]
    public static Task<IActionResult> AdminActivity(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/activity")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminActivity", request, client);

    [Function("Features")]
    public static Task<IActionResult> Features(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "features")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("Features", request, client);

    [Function("DevToken")]
    public static Task<IActionResult> DevToken(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "dev/token")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("DevToken", request, client);

    [Function("LabProgress")]
    public static Task<IActionResult> LabProgress(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "labs/{id}/progress")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("LabProgress", request, client);

    [Function("SubmitAnswer")]
    public static Task<IActionResult> SubmitAnswer(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/{id}/exercises/{exerciseId}/submit")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("SubmitAnswer", request, client);

    [Function("RevealHint")]
    public static Task<IActionResult> RevealHint(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/{id}/exercises/{exerciseId}/hints/{hintId}")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("RevealHint", request, client);

    [Function("AskTutor")]
    public static Task<IActionResult> AskTutor(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/{id}/tutor")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AskTutor", request, client);

    [Function("MyProgress")]
    public static Task<IActionResult> MyProgress(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "users/me/progress")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("MyProgress", request, client);

    [Function("AdminSetPool")]
    public static Task<IActionResult> AdminSetPool(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "admin/labs/{id}/pool")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminSetPool", request, client);

    [Function("AdminPools")]
    public static Task<IActionResult> AdminPools(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/pools")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminPools", request, client);

    [Function("LabHeartbeat")]
    public static Task<IActionResult> LabHeartbeat(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "labs/instances/{id}/heartbeat")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("LabHeartbeat", request, client);

    [Function("InstanceStats")]
    public static Task<IActionResult> InstanceStats(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "labs/instances/{id}/stats")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("InstanceStats", request, client);

    [Function("InstanceLogs")]
    public static Task<IActionResult> InstanceLogs(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "labs/instances/{id}/logs")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("InstanceLogs", request, client);

    [Function("AdminSharedFlags")]
    public static Task<IActionResult> AdminSharedFlags(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/flag-signals")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminSharedFlags", request, client);

    [Function("AdminListLabs")]
    public static Task<IActionResult> AdminListLabs(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/labs")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminListLabs", request, client);

    [Function("AdminCreateLab")]
    public static Task<IActionResult> AdminCreateLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "admin/labs")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminCreateLab", request, client);

    [Function("AdminValidateLab")]
    public static Task<IActionResult> AdminValidateLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "admin/labs/validate")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminValidateLab", request, client);

    [Function("AdminExportLabs")]
    public static Task<IActionResult> AdminExportLabs(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/labs/export")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminExportLabs", request, client);

    [Function("AdminGetLab")]
    public static Task<IActionResult> AdminGetLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/labs/{id}")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminGetLab", request, client);

    [Function("AdminUpdateLab")]
    public static Task<IActionResult> AdminUpdateLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "admin/labs/{id}")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminUpdateLab", request, client);

    [Function("AdminDeleteLab")]
    public static Task<IActionResult> AdminDeleteLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "admin/labs/{id}")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminDeleteLab", request, client);

    [Function("AdminActivateLab")]
    public static Task<IActionResult> AdminActivateLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "admin/labs/{id}/activate")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminActivateLab", request, client);

    [Function("AdminDeactivateLab")]
    public static Task<IActionResult> AdminDeactivateLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "admin/labs/{id}/deactivate")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminDeactivateLab", request, client);

    [Function("AdminLabVersions")]
    public static Task<IActionResult> AdminLabVersions(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/labs/{id}/versions")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminLabVersions", request, client);

    [Function("AdminLabVersion")]
    public static Task<IActionResult> AdminLabVersion(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "admin/labs/{id}/versions/{version}")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminLabVersion", request, client);

    [Function("AdminRollbackLab")]
    public static Task<IActionResult> AdminRollbackLab(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "admin/labs/{id}/versions/{version}/rollback")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => FunctionsHttp.RunAsync("AdminRollbackLab", request, client);
}
