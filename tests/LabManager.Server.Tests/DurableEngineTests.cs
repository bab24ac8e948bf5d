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
