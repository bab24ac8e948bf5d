using System.Text.Json;
using LabManager.Api.Auth;
using LabManager.Api.Http;
using LabManager.Infrastructure.Vultr;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LabManager.Hosting;

/// <summary>
/// Health on <c>Microsoft.Extensions.Diagnostics.HealthChecks</c>: PostgreSQL, Redis (when configured), the durable engine and
/// Vultr, each cut off after <see cref="Timeout"/>. <c>/health</c> answers load balancers with a status only; <c>/health/details</c>
/// tells operators which check fails and why.
/// </summary>
public static class LabHealthChecks
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static IServiceCollection AddLabHealthChecks(this IServiceCollection services, IConfiguration configuration)
    {
        var checks = services.AddHealthChecks()
            .AddNpgSql(name: "postgres", timeout: Timeout)
            .AddCheck<DurableCheck>("durable", timeout: Timeout)
            .AddCheck<CloudCheck>("cloud", timeout: Timeout);
        if (configuration.GetConnectionString("Redis") is { Length: > 0 })
        {
            checks.AddRedis(sp => sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(), name: "redis", timeout: Timeout);
        }

        return services;
    }

    public static IEndpointRouteBuilder MapLabHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = (http, report) => WriteAsync(http, report, details: false) });
        app.MapHealthChecks("/health/details", new HealthCheckOptions { ResponseWriter = (http, report) => WriteAsync(http, report, details: true) })
            .RequireAuthorization(LabPolicies.Operator);
        return app;
    }

    /// <summary>The answer to a health request: 200 or 503 with the envelope; each check's state only with <paramref name="details"/>.</summary>
    public static Task WriteAsync(HttpContext http, HealthReport report, bool details)
    {
        var healthy = report.Status == HealthStatus.Healthy;
        http.Response.StatusCode = healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        var data = details
            ? report.Entries.ToDictionary(e => e.Key, e => e.Value.Status == HealthStatus.Healthy ? "ok" : "failing: " + Reason(e.Value))
            : null;
        http.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(http.Response.Body, new Envelope(healthy, data, healthy ? "healthy" : "unhealthy"), ApiResult.Json, http.RequestAborted);
    }

    private static string Reason(HealthReportEntry entry) =>
        entry.Exception is OperationCanceledException ? $"no answer within {Timeout.TotalSeconds:F0} s"
        : entry.Description ?? entry.Exception?.Message ?? entry.Status.ToString();

    /// <summary>The durable engine answers a status query (for an instance that does not exist).</summary>
    private sealed class DurableCheck(DurableTaskClient durable) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            await durable.GetInstanceAsync("health-probe", cancellationToken).WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
    }

    /// <summary>
    /// The latest Vultr call's outcome (e.g. <c>Unauthorized IP address: …</c>); Vultr is called only when no call was made in the
    /// last minute, so health costs Vultr almost nothing.
    /// </summary>
    private sealed class CloudCheck(VultrHealth cloud) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var outcome = await cloud.CheckAsync(Timeout, cancellationToken);
            return outcome.Ok ? HealthCheckResult.Healthy() : new HealthCheckResult(context.Registration.FailureStatus, outcome.Detail);
        }
    }
}
