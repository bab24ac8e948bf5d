using LabManager.Api;
using LabManager.Api.Auth;
using LabManager.Api.Http;
using LabManager.Api.Realtime;
using LabManager.Api.Labs;
using LabManager.Core.Ports;
using LabManager.Infrastructure;
using LabManager.Infrastructure.Vultr;
using LabManager.Server.Durable;
using LabManager.Server.Realtime;
using LabManager.VultrEmulator;
using LabManager.Workflows;
using LabManager.Workflows.Reconciliation;
using OpenTelemetry.Metrics;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Worker;
using Microsoft.DurableTask.Testing;
using Npgsql;

namespace LabManager.Server;

/// <summary>
/// The self-hosted LabManager: the HTTP API, the lab-session workflow on the in-process Durable engine, PostgreSQL state,
/// and — when no Vultr API key is configured — an embedded Vultr emulator on a loopback port.
/// </summary>
public static class ServerApp
{
    public static async Task<WebApplication> BuildAsync(string[] args)
    {
        // The web page ships next to the binaries, wherever the content root is.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot") });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 1024 * 1024);

        VultrEmulatorApp? emulator = null;
        if (string.IsNullOrEmpty(builder.Configuration["Vultr:ApiKey"]))
        {
            var emulatorSettings = builder.Configuration.GetSection("Emulator");
            emulator = await VultrEmulatorApp.StartAsync(o => emulatorSettings.Bind(o));
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Vultr:BaseUrl"] = emulator.ApiBase.ToString(),
                ["Vultr:ApiKey"] = emulator.ApiKey,
            });
            builder.Services.AddSingleton(emulator);
        }

        builder.Services.AddPostgres(builder.Configuration);
        builder.Services.AddRedisCache(builder.Configuration);
        builder.Services.AddVultrCloudProvider(builder.Configuration);
        builder.Services.AddTutor(builder.Configuration);
        builder.Services.AddLabWorkflows(builder.Configuration);
        builder.Services.AddLabApi(builder.Configuration);
        builder.Services.AddSignalR().AddJsonProtocol(o => o.PayloadSerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase);
        builder.Services.AddSingleton<INotifier, SignalRNotifier>();
        var durable = builder.Configuration.GetSection(DurableOptions.Section).Get<DurableOptions>() ?? new DurableOptions();
        if (durable.UsesAzureStorage)
        {
            var sidecar = await AzureStorageSidecar.StartAsync(durable, builder.Configuration.GetSection("Logging"));
            builder.Services.AddSingleton(sidecar);
            builder.Services.AddDurableTaskWorker(b => b.AddTasks(registry => registry.AddLabWorkflows()).UseGrpc(sidecar.Address));
            builder.Services.AddDurableTaskClient(b => b.UseGrpc(sidecar.Address));
        }
        else
        {
            builder.Services.AddInMemoryDurableTask(registry => registry.AddLabWorkflows());
        }
        builder.Services.AddHostedService<ReconciliationService>();
        // The LabManager meter: scraped at /metrics, and pushed over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(LabMetrics.MeterName).AddPrometheusExporter();
            if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            {
                metrics.AddOtlpExporter();
            }
        });
        builder.Services.AddOpenApi();

        var app = builder.Build();
        if (emulator is not null)
        {
            app.Logger.LogInformation("No Vultr:ApiKey: using the embedded Vultr emulator at {Url}", emulator.Root);
        }

        app.UseExceptionHandler(error => error.Run(http =>
            ApiHttp.WriteAsync(http, ApiResult.Error(500, "Something went wrong on our side; it has been logged"))));
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions { OnPrepareResponse = file => PageHeaders(file.Context.Response.Headers) });
        app.UseCors();
        app.UseAuthentication();
        app.UseAuthorization();
        // A connection ends when its token expires: it must not keep receiving access URLs after that.
        app.MapHub<LabsHub>(LabsRealtime.HubPath, o => o.CloseOnAuthenticationExpiration = true).RequireAuthorization(LabPolicies.Learner);
        app.MapOpenApi();
        app.MapGet("/health", HealthAsync);
        app.MapPrometheusScrapingEndpoint();
        foreach (var route in ApiRoutes.All)
        {
            app.MapMethods(route.Pattern, [route.Method], (HttpContext http, CancellationToken _) => ApiHttp.HandleAsync(http, route)).WithName(route.Name);
        }

        return app;
    }

    /// <summary>Starts a server and returns it with the address it listens on (for tests: pass <c>--urls http://127.0.0.1:0</c>).</summary>
    public static async Task<(WebApplication App, Uri Address)> StartAsync(string[] args)
    {
        var app = await BuildAsync(args);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address));
    }

    /// <summary>
    /// The page runs only its own files and talks only to this server: even if a lab description or a tutor answer
    /// ever carried markup, no script could run from it. It may not be framed.
    /// </summary>
    private static void PageHeaders(IHeaderDictionary headers)
    {
        headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
    }

    /// <summary>
    /// Checks PostgreSQL, the durable engine and the cloud, each within 5 s; 503 when any fails. The cloud check costs Vultr nothing
    /// per call: it reports the latest Vultr call's outcome (e.g. <c>Unauthorized IP address: …</c>), calling only when none was made
    /// in the last minute.
    /// </summary>
    private static async Task<IResult> HealthAsync(NpgsqlDataSource db, DurableTaskClient durable, VultrHealth cloud, CancellationToken ct)
    {
        var timeout = TimeSpan.FromSeconds(5);
        var checks = new Dictionary<string, string>();
        async Task Check(string name, Func<CancellationToken, Task> probe)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            try
            {
                await probe(cts.Token).WaitAsync(cts.Token);
                checks[name] = "ok";
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                checks[name] = "failing: " + (ex is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:F0} s" : ex.Message);
            }
        }

        await Check("postgres", async token =>
        {
            await using var command = db.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(token);
        });
        await Check("durable", token => durable.GetInstanceAsync("health-probe", token));
        var vultr = await cloud.CheckAsync(timeout, ct);
        checks["cloud"] = vultr.Ok ? "ok" : "failing: " + vultr.Detail;
        var healthy = checks.Values.All(v => v == "ok");
        return Results.Json(new Envelope(healthy, checks, healthy ? "healthy" : "unhealthy"), ApiResult.Json, statusCode: healthy ? 200 : 503);
    }
}
