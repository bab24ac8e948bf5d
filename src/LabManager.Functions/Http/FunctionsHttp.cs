using LabManager.Api;
using LabManager.Api.Http;
using LabManager.Api.Labs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Functions.Http;

/// <summary>Holds the durable client the Functions host binds to HTTP triggers, for the services that need one.</summary>
public sealed class DurableClientSlot
{
    public DurableTaskClient? Client { get; set; }
}

/// <summary>Runs an <see cref="ApiRoutes"/> handler for an HTTP trigger and maps its result to the response.</summary>
internal static class FunctionsHttp
{
    public static async Task<IActionResult> RunAsync(string routeName, HttpRequest request, DurableTaskClient client)
    {
        var services = request.HttpContext.RequestServices;
        services.GetRequiredService<DurableClientSlot>().Client ??= client;
        var route = ApiRoutes.All.Single(r => r.Name == routeName);

        string? body = null;
        if (HttpMethods.IsPost(request.Method)
            && (request.ContentLength > ApiRequest.MaxBodyBytes || (body = await ApiRequest.ReadBodyAsync(request.Body, request.HttpContext.RequestAborted)) is null))
        {
            return ToAction(request, ApiRequest.TooLarge());
        }

        var apiRequest = new ApiRequest(
            request.Headers.Authorization.FirstOrDefault(),
            request.RouteValues.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? ""),
            request.Query.ToDictionary(kv => kv.Key, kv => (string?)kv.Value.ToString()),
            body);
        return ToAction(request, await route.Handle(services, apiRequest, request.HttpContext.RequestAborted));
    }

    /// <summary>The response for an API result: its status, envelope and headers.</summary>
    public static JsonResult ToAction(HttpRequest request, ApiResult result)
    {
        foreach (var (name, value) in result.Headers ?? new Dictionary<string, string>())
        {
            request.HttpContext.Response.Headers[name] = value;
        }

        return new JsonResult(result.Body, ApiResult.Json) { StatusCode = result.Status };
    }
}
