using System.Net;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;

namespace LabManager.Server.Durable;

/// <summary>
/// The Durable Task gRPC sidecar over the Azure Storage backend, on a loopback HTTP/2 port inside this process:
/// orchestration state lives in the storage account (Azurite locally), so workflows survive a crash of the Server.
/// </summary>
public sealed class AzureStorageSidecar : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ILoggerFactory _loggerFactory;

    private AzureStorageSidecar(WebApplication app, ILoggerFactory loggerFactory, string address)
    {
        _app = app;
        _loggerFactory = loggerFactory;
        Address = address;
    }

    /// <summary>gRPC address for the Durable Task worker and client, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Address { get; }

    /// <summary>Creates the task hub if needed and starts serving; <paramref name="logging"/> is the host's Logging section.</summary>
    public static async Task<AzureStorageSidecar> StartAsync(DurableOptions options, IConfiguration logging, CancellationToken cancellationToken = default)
    {
        var loggerFactory = LoggerFactory.Create(b => b.AddConfiguration(logging).AddConsole());
        var service = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
        {
            TaskHubName = options.TaskHub,
            StorageAccountClientProvider = new StorageAccountClientProvider(options.StorageConnectionString),
            MaxQueuePollingInterval = TimeSpan.FromSeconds(1),
            // A message a crashed process had dequeued stays invisible this long before another process gets it:
            // the default 5 minutes would stall every session that was mid-step at the crash.
            ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(30),
            WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(60),
            LoggerFactory = loggerFactory,
        });
        await service.CreateIfNotExistsAsync();

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, options.SidecarPort, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton<IOrchestrationService>(service);
        builder.Services.AddSingleton<IOrchestrationServiceClient>(service);
        builder.Services.AddOptions<TaskHubGrpcServerOptions>();
        builder.Services.AddSingleton<TaskHubGrpcServer>();
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<TaskHubGrpcServer>();
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new AzureStorageSidecar(app, loggerFactory, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _loggerFactory.Dispose();
    }
}
