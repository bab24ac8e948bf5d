using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Infrastructure.Redis;
using LabManager.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LabManager.Infrastructure.Tests;

/// <summary>The Redis cache in front of PostgreSQL, against real servers; the outage test runs a redis-server of its own.</summary>
public sealed class RedisCacheTests : IAsyncLifetime
{
    private TestDatabase _db = null!;
    private readonly List<ServiceProvider> _providers = [];

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync();

    public async Task DisposeAsync()
    {
        foreach (var p in _providers)
        {
            await p.DisposeAsync();
        }

        await _db.DisposeAsync();
    }

    private async Task<ServiceProvider> BuildAsync(string redis)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = _db.ConnectionString,
            ["ConnectionStrings:Redis"] = redis,
            ["Catalog:File"] = RepoPaths.Catalog,
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPostgres(configuration);
        services.AddRedisCache(configuration);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        foreach (var hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return provider;
    }

    /// <summary>The connection to Redis comes up in the background; waits until reads fill the cache.</summary>
    private static Task CachedAsync(IServiceProvider services, Func<IInstanceCache, Task<bool>> filled)
    {
        var cache = services.GetRequiredService<IInstanceCache>();
        return ProcessHost.WaitUntilAsync(() => filled(cache), TimeSpan.FromSeconds(10), () => "Redis never held the entry");
    }

    private static string SharedRedis => Environment.GetEnvironmentVariable("LABMANAGER_TEST_REDIS")
        ?? throw new InvalidOperationException("LABMANAGER_TEST_REDIS is not set: run the tests with ./scripts/test.sh, which starts redis-server");

    private static async Task<LabInstance> NewInstanceAsync(IServiceProvider services)
    {
        var lab = (await services.GetRequiredService<ILabCatalog>().ListAsync())[0];
        var outcome = await services.GetRequiredService<IInstanceStore>().TryStartAsync(new StartRequest(
            Guid.NewGuid(), new UserRef(Guid.NewGuid(), null, null, false), lab, DateTimeOffset.UtcNow, new QuotaPolicy(5, 100, 100, TimeSpan.FromMinutes(1))));
        return Assert.IsType<StartOutcome.Created>(outcome).Instance;
    }

    private Task<int> SetErrorBehindTheCacheAsync(Guid id, string text) =>
        _db.ScalarAsync<int>($"WITH u AS (UPDATE lab_instances SET error_message = '{text}' WHERE id = '{id}' RETURNING 1) SELECT count(*)::int FROM u");

    [Fact]
    public async Task Catalog_AChangeOnOneReplica_IsReadByAnotherAtOnce()
    {
        // Two replicas on one database and one Redis (a database of its own, so no other test's catalog is cached there).
        var redis = SharedRedis + ",defaultDatabase=5";
        var a = await BuildAsync(redis);
        var b = await BuildAsync(redis);
        var lab = (await a.GetRequiredService<ILabCatalog>().ListAsync())[0];
        await CachedAsync(a, async cache => await cache.GetCatalogAsync() is not null);
        Assert.Equal(lab.Name, (await b.GetRequiredService<ILabCatalog>().GetAsync(lab.Id))!.Name);

        var saved = await b.GetRequiredService<ILabCatalogStore>().SaveAsync(lab with { Name = "Renamed on B" }, "test");

        Assert.Equal(lab.Version + 1, saved.Version);
        Assert.Equal(["name"], saved.Changes);
        var seen = (await a.GetRequiredService<ILabCatalog>().GetAsync(lab.Id))!;
        Assert.Equal(("Renamed on B", lab.Version + 1), (seen.Name, seen.Version));
        Assert.Contains(await a.GetRequiredService<ILabCatalog>().ListAsync(), l => l.Name == "Renamed on B");
    }

    [Fact]
    public async Task Instance_SecondReadIsACacheHit_ChangeInvalidates()
    {
        var services = await BuildAsync(SharedRedis);
        var store = services.GetRequiredService<IInstanceStore>();
        Assert.IsType<CachedInstanceStore>(store);
        var instance = await NewInstanceAsync(services);
        await CachedAsync(services, async cache => { await store.GetAsync(instance.Id); return await cache.GetInstanceAsync(instance.Id) is not null; });

        Assert.Null((await store.GetAsync(instance.Id))!.ErrorMessage);
        await SetErrorBehindTheCacheAsync(instance.Id, "changed behind the cache");
        Assert.Null((await store.GetAsync(instance.Id))!.ErrorMessage);

        await store.UpdateAsync(instance.MoveTo(LabInstanceStatus.Provisioning, DateTimeOffset.UtcNow) with { CloudInstanceId = "vm-9" });
        var fresh = (await store.GetAsync(instance.Id))!;
        Assert.Equal(LabInstanceStatus.Provisioning, fresh.Status);
        Assert.Equal("vm-9", fresh.CloudInstanceId);
    }

    [Fact]
    public async Task Catalog_CachedUntilLoadedAgain()
    {
        var services = await BuildAsync(SharedRedis);
        var catalog = services.GetRequiredService<ILabCatalog>();
        Assert.Equal(4, (await catalog.ListAsync()).Count);
        await CachedAsync(services, async cache => { await catalog.ListAsync(); return await cache.GetCatalogAsync() is not null; });
        await _db.ScalarAsync<int>("WITH u AS (UPDATE labs SET name = 'Renamed' RETURNING 1) SELECT count(*)::int FROM u");
        Assert.DoesNotContain(await catalog.ListAsync(), l => l.Name == "Renamed");

        foreach (var hosted in services.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        // Loading the catalog file again restores the names and drops the cached list; the next read refills it.
        var cache = services.GetRequiredService<IInstanceCache>();
        Assert.Null(await cache.GetCatalogAsync());
        Assert.DoesNotContain(await catalog.ListAsync(), l => l.Name == "Renamed");
        Assert.Equal(4, (await cache.GetCatalogAsync())!.Count);
    }

    [Fact]
    public async Task RedisStoppedMidTest_ReadsAndWritesStillCorrect()
    {
        var port = ProcessHost.FreePort();
        using var redis = StartRedis(port);
        var services = await BuildAsync($"127.0.0.1:{port}");
        var store = services.GetRequiredService<IInstanceStore>();
        var instance = await NewInstanceAsync(services);
        await store.GetAsync(instance.Id);

        redis.Kill();
        await redis.WaitForExitAsync();
        await SetErrorBehindTheCacheAsync(instance.Id, "seen without redis");

        var clock = Stopwatch.StartNew();
        Assert.Equal("seen without redis", (await store.GetAsync(instance.Id))!.ErrorMessage);
        await store.UpdateAsync(instance.MoveTo(LabInstanceStatus.Stopping, DateTimeOffset.UtcNow));
        Assert.Equal(LabInstanceStatus.Stopping, (await store.GetAsync(instance.Id))!.Status);
        Assert.Equal(4, (await services.GetRequiredService<ILabCatalog>().ListAsync()).Count);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"reads took {clock.Elapsed} without Redis");
    }

    private static Process StartRedis(int port)
    {
        var process = Process.Start(new ProcessStartInfo("redis-server", ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            RedirectStandardOutput = true,
        })!;
        for (var i = 0; i < 50; i++)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, port);
                return process;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }

        throw new InvalidOperationException("redis-server did not start");
    }
}
