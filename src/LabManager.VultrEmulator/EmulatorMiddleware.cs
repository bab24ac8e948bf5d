namespace LabManager.VultrEmulator;

/// <summary>In front of <c>/v2</c>: counts calls, adds latency, enforces the rate limit and the API key, injects 5xx.</summary>
internal sealed class EmulatorMiddleware(RequestDelegate next, Cloud cloud)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (!http.Request.Path.StartsWithSegments("/v2", out var rest))
        {
            await next(http);
            return;
        }

        var faults = cloud.Faults;
        cloud.Count(KindOf(http.Request.Method, rest.Value ?? ""));
        var rate = cloud.Rate.Hit();
        if (faults.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(faults.LatencyMs), cloud.Time, http.RequestAborted);
        }

        if (faults.RateLimitPerSecond > 0 && rate > faults.RateLimitPerSecond)
        {
            cloud.Count("answered_429");
            http.Response.Headers.RetryAfter = "1";
            await Json.Error(429, "Rate limit exceeded. Please try again later.").ExecuteAsync(http);
            return;
        }

        var auth = http.Request.Headers.Authorization.ToString();
        if (auth != "Bearer " + cloud.Options.ApiKey)
        {
            cloud.Count("answered_401");
            await Json.Error(401, "Invalid API token.").ExecuteAsync(http);
            return;
        }

        // The key's IP access control: Vultr counts and checks the caller's source address.
        var caller = http.Connection.RemoteIpAddress?.MapToIPv4().ToString() ?? "";
        if (faults.AllowedIps.Length > 0 && !faults.AllowedIps.Split(',', StringSplitOptions.TrimEntries).Contains(caller))
        {
            cloud.Count("answered_401");
            await Json.Error(401, $"Unauthorized IP address: {caller}").ExecuteAsync(http);
            return;
        }

        if (cloud.Strikes(faults.ErrorRate))
        {
            cloud.Count("answered_5xx");
            await Json.Error(500, "Internal server error.").ExecuteAsync(http);
            return;
        }

        await next(http);
    }

    /// <summary>A short name for the call, e.g. <c>create</c>, <c>get</c>, <c>list</c>, <c>delete</c>, <c>reboot</c>.</summary>
    public static string KindOf(string method, string path)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return (method, segments) switch
        {
            ("POST", ["instances"]) => "create",
            ("GET", ["instances"]) => "list",
            ("GET", ["instances", _]) => "get",
            ("DELETE", ["instances", _]) => "delete",
            (_, ["instances", _, var action]) => action,
            (_, [var first, ..]) => method.ToLowerInvariant() + " " + first,
            _ => method.ToLowerInvariant(),
        };
    }
}
