using System.Net;
using DurableTask.AzureStorage;
using DurableTask.Core;
using DurableTask.Core.History;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.DurableTask.Testing.Sidecar;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;

namespace LabManager.Server.Durable;

/// <summary>
/// The Durable Task gRPC sidecar on a loopback HTTP/2 port inside this process, over the engine <see cref="DurableOptions.Backend"/> names:
/// Azure Storage (Azurite locally), whose workflows survive a crash of the Server, or memory, whose workflows end with the process.
/// </summary>
public sealed class DurableSidecar : IAsyncDisposable
{
    /// <summary>
    /// Work items the in-memory engine hands out at once. Most of a lab's activities wait on I/O (Vultr, a probe, PostgreSQL), and when the
    /// limit is reached the sidecar looks again only every 500 ms: the engine's own limit (one per core) made it run 2 orchestrations/s.
    /// </summary>
    public const int InMemoryConcurrency = 100;

    private readonly WebApplication _app;
    private readonly ILoggerFactory _loggerFactory;

    private DurableSidecar(WebApplication app, ILoggerFactory loggerFactory, string address)
    {
        _app = app;
        _loggerFactory = loggerFactory;
        Address = address;
    }

    /// <summary>gRPC address for the Durable Task worker and client, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Address { get; }

    /// <summary>Creates the task hub if needed and starts serving; <paramref name="logging"/> is the host's Logging section.</summary>
    public static async Task<DurableSidecar> StartAsync(DurableOptions options, IConfiguration logging, CancellationToken cancellationToken = default)
    {
        var loggerFactory = LoggerFactory.Create(b => b.AddConfiguration(logging).AddConsole());
        IOrchestrationService service;
        if (options.Engine == DurableBackend.AzureStorage)
        {
            var storage = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
            {
                TaskHubName = options.TaskHub,
                WorkerId = options.WorkerName,
                PartitionCount = options.PartitionCount,
                StorageAccountClientProvider = new StorageAccountClientProvider(options.StorageConnectionString),
                MaxQueuePollingInterval = TimeSpan.FromSeconds(1),
                // A message a crashed process had dequeued stays invisible this long before another process gets it:
                // the default 5 minutes would stall every session that was mid-step at the crash.
                ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(30),
                WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(60),
                LoggerFactory = loggerFactory,
            });
            await storage.CreateIfNotExistsAsync();
            service = storage;
        }
        else
        {
            service = new InMemoryEngine(loggerFactory);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, options.SidecarPort, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton(service);
        builder.Services.AddSingleton((IOrchestrationServiceClient)service);
        builder.Services.AddOptions<TaskHubGrpcServerOptions>();
        builder.Services.AddSingleton<TaskHubGrpcServer>();
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<TaskHubGrpcServer>();
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DurableSidecar(app, loggerFactory, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _loggerFactory.Dispose();
    }

    /// <summary>
    /// The in-process engine's store, with two changes through re-implemented interface members: it hands out
    /// <see cref="InMemoryConcurrency"/> work items at once instead of one per core, and it drops an event raised to an orchestration that does
    /// not exist (as Azure Storage does), where the store would make an empty instance of it and dispatch that over and over.
    /// </summary>
    private sealed class InMemoryEngine(ILoggerFactory loggerFactory)
        : InMemoryOrchestrationService(loggerFactory), IOrchestrationService, IOrchestrationServiceClient
    {
        private readonly ILogger _logger = loggerFactory.CreateLogger<InMemoryEngine>();

        public new int MaxConcurrentTaskOrchestrationWorkItems => InMemoryConcurrency;

        public new int MaxConcurrentTaskActivityWorkItems => InMemoryConcurrency;

        public new async Task SendTaskOrchestrationMessageAsync(TaskMessage message)
        {
            if (message.Event is EventRaisedEvent raised && await GetOrchestrationStateAsync(message.OrchestrationInstance.InstanceId, executionId: null) is null)
            {
                _logger.LogDebug("Event {Name} to orchestration {InstanceId}, which does not exist, dropped", raised.Name, message.OrchestrationInstance.InstanceId);
                return;
            }

            await base.SendTaskOrchestrationMessageAsync(message);
        }
    }
}
