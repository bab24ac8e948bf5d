using LabManager.Api;
using LabManager.Functions.Http;
using LabManager.Infrastructure;
using LabManager.Workflows;
using LabManager.Workflows.Reconciliation;
using Azure.Monitor.OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();

// The same wiring as the Server; only the durable client comes from the Functions binding.
builder.Services.AddPostgres(builder.Configuration);
builder.Services.AddRedisCache(builder.Configuration);
builder.Services.AddVultrCloudProvider(builder.Configuration);
builder.Services.AddTutor(builder.Configuration);
builder.Services.AddLabWorkflows(builder.Configuration);
builder.Services.AddLabApi(builder.Configuration);
builder.Services.AddAzureSignalRNotifier(builder.Configuration);
builder.Services.AddSingleton<DurableClientSlot>();

// The LabManager meter goes to Application Insights when the app has its connection string.
if (!string.IsNullOrEmpty(builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]))
{
    builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(LabMetrics.MeterName).AddAzureMonitorMetricExporter());
}

builder.Services.AddSingleton<DurableTaskClient>(sp => sp.GetRequiredService<DurableClientSlot>().Client
    ?? throw new InvalidOperationException("No durable client yet: it arrives with the first HTTP call"));

builder.Build().Run();
