using LabManager.Api.Auth;
using LabManager.Api.Http;

namespace LabManager.Server.Realtime;

/// <summary>
/// Authenticates hub requests with the API's JWT: the Authorization header, or the <c>access_token</c> query parameter
/// that browsers use for WebSockets. Unauthenticated requests get the API's 401 before any connection exists.
/// </summary>
public static class HubAuthentication
{
    public const string UserKey = "labmanager.user";

    public static IApplicationBuilder UseHubAuthentication(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (!http.Request.Path.StartsWithSegments(LabsHub.Path))
        {
            await next(http);
            return;
        }

        var header = http.Request.Headers.Authorization.FirstOrDefault()
            ?? (http.Request.Query["access_token"].FirstOrDefault() is { Length: > 0 } token ? "Bearer " + token : null);
        var (user, error) = await http.RequestServices.GetRequiredService<TokenService>().ValidateAsync(header, http.RequestAborted);
        if (user is null)
        {
            var result = ApiResult.Unauthorized(error!);
            http.Response.StatusCode = result.Status;
            await http.Response.WriteAsJsonAsync(result.Body, ApiResult.Json);
            return;
        }

        http.Items[UserKey] = user;
        await next(http);
    });
}
