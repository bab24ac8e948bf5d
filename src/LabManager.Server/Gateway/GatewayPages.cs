namespace LabManager.Server.Gateway;

/// <summary>The gateway's own answers: small pages that run nothing and say only what the asker may know.</summary>
internal static class GatewayPages
{
    /// <summary>An unknown host, no or another lab's cookie, a used or expired ticket: the same answer, so nothing says a lab exists.</summary>
    public static Task NotFoundAsync(HttpContext http) =>
        WriteAsync(http, 404, "No lab here", "There is no lab at this address. Open your lab from the LabManager page.");

    public static Task EndedAsync(HttpContext http) =>
        WriteAsync(http, 410, "This lab session has ended", "This lab session has ended. Start the lab again from the LabManager page.");

    public static Task NotReadyAsync(HttpContext http) =>
        WriteAsync(http, 503, "The lab is not ready", "The lab is restarting or not ready yet; try again in a moment.", retryAfter: true);

    public static Task NoAnswerAsync(HttpContext http) =>
        WriteAsync(http, 502, "The lab did not answer", "The lab did not answer; it may still be starting. Try again in a moment.", retryAfter: true);

    private static async Task WriteAsync(HttpContext http, int status, string title, string text, bool retryAfter = false)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/html; charset=utf-8";
        http.Response.Headers.ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
        http.Response.Headers.CacheControl = "no-store";
        if (retryAfter)
        {
            http.Response.Headers.RetryAfter = "5";
        }

        await http.Response.WriteAsync(
            $"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>");
    }
}
