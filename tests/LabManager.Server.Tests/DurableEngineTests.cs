using LabManager.Server.Durable;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LabManager.Server.Tests;

/// <summary>The Server's default engine, in memory: as many activities at once as wait on I/O, and no work for an event sent nowhere.</summary>
public sealed class DurableEngineTests : IAsyncLifetime
{
    private const int Sessions = 50;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private int _mostInFlight;
    private DurableSidecar _sidecar = null!;
    private IHost _host = null!;
    private readonly DurableActivityCount _activities = new();

    private DurableTaskClient Client => _host.Services.GetRequiredService<DurableTaskClient>();

    public async Task InitializeAsync()
    {
        var quiet = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["LogLevel:Default"] = "Warning" }).Build();
        _sidecar = await DurableSidecar.StartAsync(new DurableOptions(), quiet);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddDurableTaskWorker(b => b.AddTasks(r => r
            .AddOrchestratorFunc<int, int>("Waits", (ctx, n) => ctx.CallActivityAsync<int>("Gate", n))
            .AddActivityFunc<int, int>("Gate", async (_, n) =>
            {
                var now = Interlocked.Increment(ref _inFlight);
                InterlockedMax(ref _mostInFlight, now);
                await _release.Task;
                Interlocked.Decrement(ref _inFlight);
                return n;
            })).UseGrpc(_sidecar.Address));
        builder.Services.AddDurableTaskClient(b => b.UseGrpc(_sidecar.Address));
        _host = builder.Build();
        await _host.StartAsync();
    }

    private static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
            {
                return;
            }
        }
    }

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        await _host.StopAsync();
        _host.Dispose();
        await _sidecar.DisposeAsync();
        _activities.Dispose();
    }

    [Fact]
    public async Task FiftyActivitiesWaitingOnIo_RunAtOnce_NotOnePerCore()
    {
        var ids = await Task.WhenAll(Enumerable.Range(0, Sessions).Select(i => Client.ScheduleNewOrchestrationInstanceAsync("Waits", i)));
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); Volatile.Read(ref _inFlight) < Sessions; await Task.Delay(20))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"only {_mostInFlight} activities ran at once");
        }

        _release.SetResult();
        foreach (var id in ids)
        {
            Assert.Equal(OrchestrationRuntimeStatus.Completed, (await Client.WaitForInstanceCompletionAsync(id)).RuntimeStatus);
        }

        Assert.Equal(Sessions, _mostInFlight);
        Assert.True(_activities.Count >= Sessions, $"the worker's activity spans counted {_activities.Count}");
    }

    [Fact]
    public async Task AnEventToAnOrchestrationThatDoesNotExist_IsDropped_AndMakesNone()
    {
        var nowhere = Guid.NewGuid().ToString();

        await Client.RaiseEventAsync(nowhere, "Stop", "nobody");

        Assert.Null(await Client.GetInstanceAsync(nowhere));
        // Later work is not held up behind it.
        _release.SetResult();
        var id = await Client.ScheduleNewOrchestrationInstanceAsync("Waits", 7);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Equal(7, (await Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, cts.Token)).ReadOutputAs<int>());
        Assert.Null(await Client.GetInstanceAsync(nowhere));
    }
}

/// <summary>The Azure Storage engine as replicas run it: several processes on one task hub, each under its own worker name.</summary>
public sealed class SharedTaskHubTests
{
    [Fact]
    public async Task ASecondSidecarOnTheHost_UnderItsOwnName_TakesNothingFromTheFirst()
    {
        var storage = Environment.GetEnvironmentVariable("LABMANAGER_TEST_AZURITE")
            ?? throw new InvalidOperationException("LABMANAGER_TEST_AZURITE is not set: run the tests with ./scripts/test.sh");
        var options = new DurableOptions { Backend = "AzureStorage", StorageConnectionString = storage, TaskHub = "lm" + Guid.NewGuid().ToString("N")[..10] };
        var quiet = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["LogLevel:Default"] = "Warning" }).Build();
        // The engine keeps who owns each of the hub's partitions in a table, and takes partitions once a worker asks it for work.
        var partitions = new Azure.Data.Tables.TableClient(storage, options.TaskHub + "Partitions");
        List<(string Owner, string Next)> Owners() =>
            [.. partitions.Query<Azure.Data.Tables.TableEntity>().Select(p => (p.GetString("CurrentOwner") ?? "", p.GetString("NextOwner") ?? ""))];
        await using var a = await DurableSidecar.StartAsync(options, quiet);
        using var workerOfA = await StartWorkerAsync(a.Address);
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); Owners() is not [(var owner, _)] || owner != Environment.MachineName; await Task.Delay(200))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"partitions [{string.Join(", ", Owners())}], not one owned by {Environment.MachineName}");
        }

        // A replica on the same host, under its own name (the first has the default, the machine's).
        options.WorkerId = "replica-b";
        await using var b = await DurableSidecar.StartAsync(options, quiet);
        using var workerOfB = await StartWorkerAsync(b.Address);

        // The engine balances every 10 s: after two rounds the first still owns the partition, and nobody has asked for it (with 4
        // partitions, the second would take two while sessions run on them).
        await Task.Delay(TimeSpan.FromSeconds(21));
        Assert.Equal([(Environment.MachineName, "")], Owners());
    }

    private static async Task<IHost> StartWorkerAsync(string address)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddDurableTaskWorker(b => b.UseGrpc(address));
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
