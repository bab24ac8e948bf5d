using System.Net.ServerSentEvents;
using LabManager.Api.Auth;
using LabManager.Core.Ports;
using LabManager.Core.Access;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LabManager.Api.Http;

/// <summary>
/// Runs an <see cref="ApiRoute"/> on an ASP.NET Core request, the same in both hosts: the token first, then the body's size, the
/// route's id and the body's shape, each refused with the envelope, so the handler gets a checked request and is its happy path.
/// </summary>
public static class ApiHttp
{
    public static async Task HandleAsync(HttpContext http, ApiRoute route)
    {
        var ct = http.RequestAborted;
        UserRef? user = null;
        if (route.Access is RouteAccess.Learner or RouteAccess.Operator
            || (route.Access == RouteAccess.OptionalToken && http.Request.Headers.Authorization.Count > 0))
        {
            if ((user = await LabAuthentication.AuthenticateAsync(http, route.Access == RouteAccess.Operator)) is null)
            {
                return;
            }
        }

        string? body = null;
        if ((HttpMethods.IsPost(http.Request.Method) || HttpMethods.IsPut(http.Request.Method))
            && (http.Request.ContentLength > route.MaxBody || (body = await ApiRequest.ReadBodyAsync(http.Request.Body, ct, route.MaxBody)) is null))
        {
            await WriteAsync(http, ApiRequest.TooLarge(route.MaxBody));
            return;
        }

        var values = http.Request.RouteValues.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? "");
        var id = Guid.Empty;
        if (route.IdOf is { } what && !Guid.TryParse(values.GetValueOrDefault("id"), out id))
        {
            await WriteAsync(http, ApiResult.BadRequest($"The {what} id must be a UUID"));
            return;
        }

        var (json, badBody) = route.Body is { } type ? ApiRequest.ParseJson(type, body) : (null, null);
        if (badBody is not null)
        {
            await WriteAsync(http, badBody);
            return;
        }

        var trusted = http.RequestServices.GetRequiredService<IOptions<AccessOptions>>().Value.TrustedProxies;
        var request = new ApiRequest(user, values, http.Request.Query.ToDictionary(kv => kv.Key, kv => (string?)kv.Value.ToString()), json, id,
            ClientAddress.Of(http, trusted)?.ToString(), route.Streams && http.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase));
        await WriteAsync(http, await route.Handle(http.RequestServices, request, ct));
    }

    /// <summary>Writes a result: its status, headers and envelope.</summary>
    public static Task WriteAsync(HttpContext http, ApiResult result)
    {
        foreach (var (name, value) in result.Headers ?? new Dictionary<string, string>())
        {
            http.Response.Headers[name] = value;
        }

        http.Response.StatusCode = result.Status;
        if (result.Text is { } text)
        {
            http.Response.ContentType = result.ContentType + "; charset=utf-8";
            return http.Response.WriteAsync(text, http.RequestAborted);
        }

        return result.Events is { } events ? WriteEventsAsync(http, events) : http.Response.WriteAsJsonAsync(result.Body, ApiResult.Json, http.RequestAborted);
    }

    /// <summary>Writes server-sent events, each sent as soon as it is produced (no buffering here or in a proxy).</summary>
    private static async Task WriteEventsAsync(HttpContext http, IAsyncEnumerable<SseItem<string>> events)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await SseFormatter.WriteAsync(events, http.Response.Body, http.RequestAborted);
    }
}
