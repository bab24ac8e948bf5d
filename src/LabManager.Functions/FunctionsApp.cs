using Azure.Monitor.OpenTelemetry.Exporter;
using LabManager.Api;
using LabManager.Functions.Http;
using LabManager.Hosting;
using LabManager.Infrastructure;
using LabManager.Workflows.Reconciliation;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace LabManager.Functions;

/// <summary>The Functions app's services: <see cref="LabManagerServiceCollectionExtensions.AddLabManager"/> plus what only this host has.</summary>
public static class FunctionsApp
{
    public static FunctionsApplicationBuilder Configure(FunctionsApplicationBuilder builder)
    {
        builder.ConfigureFunctionsWebApplication();
        builder.Services.AddLabManager(builder.Configuration);
        // Live status through Azure SignalR Service: the page negotiates at /api/realtime/negotiate (none without the service).
        var signalR = builder.Services.AddAzureSignalRNotifier(builder.Configuration);
        builder.Services.PostConfigure<ApiOptions>(o => o.RealtimeUrl = signalR is null ? null : "/api/realtime");
        // No gateway runs here: each lab is opened to its learner's address only, and its URL is the VM's.
        // The worker is reached through the Functions host on loopback: the learner's address is the one the platform's front end wrote.
        builder.Services.PostConfigure<Core.Access.AccessOptions>(o =>
        {
            o.Mode = Core.Access.AccessMode.Direct;
            if (o.TrustedProxies.Count == 0)
            {
                o.TrustedProxies = ["127.0.0.0/8", "::1/128"];
            }
        });

        // The durable client comes from the Functions binding: every trigger that needs it takes [DurableClient] and fills the slot.
        builder.Services.AddSingleton<DurableClientSlot>();
        builder.Services.AddSingleton<DurableTaskClient>(sp => sp.GetRequiredService<DurableClientSlot>().Client
            ?? throw new InvalidOperationException("No durable client yet: it arrives with the first trigger that binds one"));

        // The LabManager meter goes to Application Insights when the app has its connection string.
        if (!string.IsNullOrEmpty(builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]))
        {
            builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(LabMetrics.MeterName).AddAzureMonitorMetricExporter());
        }

        return builder;
    }
}
