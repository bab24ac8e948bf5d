using System.Text.Json;
using LabManager.Api.Auth;
using LabManager.Api.Http;
using LabManager.Infrastructure.Notifications;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace LabManager.Functions.Realtime;

/// <summary>
/// Live status through Azure SignalR Service (serverless): <c>negotiate</c> gives an authenticated caller the service URL and
/// an access token for their user id; subscribe/unsubscribe put one of their connections in a lab's group.
/// </summary>
public sealed class RealtimeFunctions(IServiceProvider services)
{
    [Function("Negotiate")]
    public async Task<IActionResult> Negotiate(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "realtime/negotiate")] HttpRequest request)
    {
        if (await LabAuthentication.AuthenticateAsync(request.HttpContext) is not { } user)
        {
            return new EmptyResult();
        }

        if (services.GetService(typeof(AzureSignalRConnection)) is not AzureSignalRConnection connection)
        {
            return Answer(ApiResult.Error(503, "Live status is not configured (ConnectionStrings:AzureSignalR)"));
        }

        var url = connection.ClientUrl(AzureSignalRNotifier.Hub);
        var token = connection.Token(url, TimeSpan.FromHours(1), user.Id.ToString());
        return new JsonResult(new { url, accessToken = token });
    }

    [Function("SubscribeLab")]
    public Task<IActionResult> Subscribe(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "realtime/labs/{id}/subscribe")] HttpRequest request, string id) =>
        ChangeGroupAsync(request, id, (api, group, connectionId, ct) => api.AddToGroupAsync(AzureSignalRNotifier.Hub, group, connectionId, ct));

    [Function("UnsubscribeLab")]
    public Task<IActionResult> Unsubscribe(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "realtime/labs/{id}/unsubscribe")] HttpRequest request, string id) =>
        ChangeGroupAsync(request, id, (api, group, connectionId, ct) => api.RemoveFromGroupAsync(AzureSignalRNotifier.Hub, group, connectionId, ct));

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

        await change(api, AzureSignalRNotifier.LabGroup(labId), connectionId, request.HttpContext.RequestAborted);
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
