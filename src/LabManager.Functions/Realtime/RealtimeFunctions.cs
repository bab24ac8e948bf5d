using System.Text.Json;
using LabManager.Api.Auth;
using LabManager.Api.Http;
using LabManager.Core.Realtime;
using LabManager.Infrastructure.Notifications;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace LabManager.Functions.Realtime;

/// <summary>
/// Live status through Azure SignalR Service (serverless), on the same contract as the Server's hub (<see cref="LabsRealtime"/>):
/// <c>negotiate</c> puts the caller in their groups and gives them the service URL and an access token for their user id;
/// subscribe/unsubscribe put one of their connections in a lab's group (the Server's <c>subscribe:lab</c>).
/// </summary>
public sealed class RealtimeFunctions(IServiceProvider services)
{
    /// <summary>How long a negotiated connection token, and the group memberships made with it, last.</summary>
    public static readonly TimeSpan ConnectionLifetime = TimeSpan.FromHours(1);

    [Function("Negotiate")]
    public async Task<IActionResult> Negotiate(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "realtime/negotiate")] HttpRequest request)
    {
        if (await LabAuthentication.AuthenticateAsync(request.HttpContext) is not { } user)
        {
            return new EmptyResult();
        }

        if (services.GetService(typeof(AzureSignalRConnection)) is not AzureSignalRConnection connection
            || services.GetService(typeof(IAzureSignalRApi)) is not IAzureSignalRApi api)
        {
            return Answer(ApiResult.Error(503, "Live status is not configured (ConnectionStrings:AzureSignalR)"));
        }

        // The contract's groups: the learner's own, and the operators' for operators, for as long as the connection token lives.
        var userId = user.Id.ToString();
        var ct = request.HttpContext.RequestAborted;
        await api.AddUserToGroupAsync(LabsRealtime.HubName, LabsRealtime.UserGroup(user.Id), userId, (int)ConnectionLifetime.TotalSeconds, ct);
        if (user.IsAdmin)
        {
            await api.AddUserToGroupAsync(LabsRealtime.HubName, LabsRealtime.OperatorsGroup, userId, (int)ConnectionLifetime.TotalSeconds, ct);
        }

        var url = connection.ClientUrl(LabsRealtime.HubName);
        return new JsonResult(new { url, accessToken = connection.Token(url, ConnectionLifetime, userId) });
    }

    [Function("SubscribeLab")]
    public Task<IActionResult> Subscribe(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "realtime/labs/{id}/subscribe")] HttpRequest request, string id) =>
        ChangeGroupAsync(request, id, (api, group, connectionId, ct) => api.AddToGroupAsync(LabsRealtime.HubName, group, connectionId, ct));

    [Function("UnsubscribeLab")]
    public Task<IActionResult> Unsubscribe(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "realtime/labs/{id}/unsubscribe")] HttpRequest request, string id) =>
        ChangeGroupAsync(request, id, (api, group, connectionId, ct) => api.RemoveFromGroupAsync(LabsRealtime.HubName, group, connectionId, ct));

    private async Task<IActionResult> ChangeGroupAsync(HttpRequest request, string id, Func<IAzureSignalRApi, string, string, CancellationToken, Task> change)
    {
        if (await LabAuthentication.AuthenticateAsync(request.HttpContext) is null)
        {
            return new EmptyResult();
        }

        if (!Guid.TryParse(id, out var labId))
        {
            return Answer(ApiResult.BadRequest("The lab id must be a UUID"));
        }

        var body = await ApiRequest.ReadBodyAsync(request.Body, request.HttpContext.RequestAborted);
        var connectionId = body is null ? null : TryConnectionId(body);
        if (string.IsNullOrEmpty(connectionId))
        {
            return Answer(ApiResult.BadRequest("The body must be {\"connectionId\": \"...\"}"));
        }

        if (services.GetService(typeof(IAzureSignalRApi)) is not IAzureSignalRApi api)
        {
            return Answer(ApiResult.Error(503, "Live status is not configured (ConnectionStrings:AzureSignalR)"));
        }

        await change(api, LabsRealtime.LabGroup(labId), connectionId, request.HttpContext.RequestAborted);
        return Answer(ApiResult.Ok(new { labId, connectionId }));
    }

    private static JsonResult Answer(ApiResult result) => new(result.Body, ApiResult.Json) { StatusCode = result.Status };

    private static string? TryConnectionId(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("connectionId", out var c) ? c.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
