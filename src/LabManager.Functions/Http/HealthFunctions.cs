using LabManager.Api.Auth;
using LabManager.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LabManager.Functions.Http;

/// <summary>
/// The Server's health routes on Functions, over the same checks: <c>/api/health</c> for the platform's health check (status only),
/// <c>/api/health/details</c> for operators.
/// </summary>
public sealed class HealthFunctions(HealthCheckService health, DurableClientSlot slot)
{
    [Function("Health")]
    public Task<IActionResult> Health(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request,
        [DurableClient] DurableTaskClient client) => AnswerAsync(request, client, details: false);

    [Function("HealthDetails")]
    public async Task<IActionResult> HealthDetails(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health/details")] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        await LabAuthentication.AuthenticateAsync(request.HttpContext, operatorOnly: true) is null
            ? new EmptyResult()
            : await AnswerAsync(request, client, details: true);

    private async Task<IActionResult> AnswerAsync(HttpRequest request, DurableTaskClient client, bool details)
    {
        slot.Client ??= client;
        await LabHealthChecks.WriteAsync(request.HttpContext, await health.CheckHealthAsync(request.HttpContext.RequestAborted), details);
        return new EmptyResult();
    }
}
