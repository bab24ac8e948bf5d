using LabManager.Api;
using LabManager.Api.Auth;
using LabManager.Api.Http;
using LabManager.Core.Realtime;
using LabManager.Core.Ports;
using LabManager.Hosting;
using LabManager.Server.Durable;
using LabManager.Server.Gateway;
using LabManager.Server.Realtime;
using LabManager.VultrEmulator;
using LabManager.Workflows;
using LabManager.Workflows.Reconciliation;
using OpenTelemetry.Metrics;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Worker;

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

        builder.Services.AddLabManager(builder.Configuration);
        builder.Services.AddSignalR().AddJsonProtocol(o => o.PayloadSerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase);
        var redis = builder.Configuration.GetConnectionString("Redis");
        builder.Services.AddDataProtection().SetApplicationName("LabManager");
        if (!string.IsNullOrEmpty(redis))
        {
            builder.Services.AddReplicaSharing(redis);
        }

        builder.Services.AddSingleton<ILabsClient, HubLabsClient>();
        builder.Services.AddSingleton<INotifier, RealtimeNotifier>();
        var durable = builder.Configuration.GetSection(DurableOptions.Section).Get<DurableOptions>() ?? new DurableOptions();
        var sidecar = await DurableSidecar.StartAsync(durable, builder.Configuration.GetSection("Logging"));
        builder.Services.AddSingleton(_ => sidecar);
        builder.Services.AddDurableTaskWorker(b => b.AddTasks(registry => registry.AddLabWorkflows()).UseGrpc(sidecar.Address));
        builder.Services.AddDurableTaskClient(b => b.UseGrpc(sidecar.Address));
        builder.Services.AddHostedService<ReconciliationService>();
        builder.Services.AddHostedService<AgentWatchService>();
        builder.Services.AddHostedService<VmWatchService>();
        // The LabManager meter: scraped at /metrics, and pushed over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(LabMetrics.MeterName).AddPrometheusExporter();
            if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            {
                metrics.AddOtlpExporter();
            }
        });
        builder.Services.AddSingleton<DurableActivityCount>();
        builder.Services.AddLabOpenApi();
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<LabGateway>();
        builder.Services.AddSingleton<ActivityStamps>();
        builder.Services.AddHostedService(s => s.GetRequiredService<ActivityStamps>());

        var app = builder.Build();
        // Listening from the start: the count is of every activity this Server's worker runs.
        app.Services.GetRequiredService<DurableActivityCount>();
        if (emulator is not null)
        {
            app.Logger.LogInformation("No Vultr:ApiKey: using the embedded Vultr emulator at {Url}", emulator.Root);
        }

        if (durable.Engine == DurableBackend.AzureStorage)
        {
            app.Logger.LogInformation("Durable task hub {TaskHub} in Azure Storage; this Server works on it as {WorkerId}", durable.TaskHub, durable.WorkerName);
        }

        if (durable.Engine == DurableBackend.InMemory)
        {
            app.Logger.LogWarning("Durable:Backend is {Backend}: workflows run in this process's memory, so every lab session in progress is lost when " +
                "the Server stops or crashes (its VMs are then removed by reconciliation). To keep sessions across restarts, set Durable:Backend=AzureStorage " +
                "and Durable:StorageConnectionString (Azurite locally)", string.IsNullOrEmpty(builder.Configuration["Durable:Backend"]) ? "not set (InMemory)" : "InMemory");
        }

        if (string.IsNullOrEmpty(redis))
        {
            app.Logger.LogWarning("No ConnectionStrings:Redis: this Server must run as a single replica (live status and gateway cookies stay in this process)");
        }

        // Behind its firewall a lab answers probes only on its web ports, from Access:GatewayCidrs: the phone-home is what tells the
        // rest (a TCP lab, any lab in direct mode) is up.
        if (app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<LabSessionOptions>>().Value is { PhoneHomeUrl: null or "" } or { PhoneHomeKey: null or "" })
        {
            app.Logger.LogWarning("LabSessions:PhoneHomeUrl or LabSessions:PhoneHomeKey is not set: labs are found up by probing only, which their firewall " +
                "allows on web ports from Access:GatewayCidrs alone; a lab reached by TCP only will not be seen up");
        }

        // A lab's host is the gateway's, whatever the path: nothing of the Server (its pages, headers, CORS, tokens) applies there.
        app.Use((http, next) => http.RequestServices.GetRequiredService<LabGateway>() is var gateway && gateway.Claims(http, out var instanceId, out var port)
            ? gateway.HandleAsync(http, instanceId, port)
            : next(http));
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
        app.MapLabHealth();
        app.MapPrometheusScrapingEndpoint();
        foreach (var area in ApiRoutes.All.GroupBy(r => r.Area))
        {
            var group = app.MapGroup("").WithTags(area.Key);
            foreach (var route in area)
            {
                group.MapMethods(route.Pattern, [route.Method], (HttpContext http, CancellationToken _) => ApiHttp.HandleAsync(http, route))
                    .WithName(route.Name)
                    .WithApiShapes(route);
            }
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
}
