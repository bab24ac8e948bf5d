using System.Text.Json;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Infrastructure.Postgres;
using LabManager.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace LabManager.Infrastructure.Tests;

/// <summary>The PostgreSQL adapters against a real server, one fresh database per test.</summary>
public sealed class PostgresStoreTests : IAsyncLifetime
{
    private static readonly QuotaPolicy Generous = new(5, 100, 100, TimeSpan.FromMinutes(10));
    private PostgresServices _postgres = null!;

    private TestDatabase Db => _postgres.Db;
    private ServiceProvider Services => _postgres.Services;
    private IInstanceStore Instances => Services.GetRequiredService<IInstanceStore>();
    private ILabCatalog Catalog => Services.GetRequiredService<ILabCatalog>();

    public async Task InitializeAsync() => _postgres = await PostgresServices.StartAsync();

    public async Task DisposeAsync() => await _postgres.DisposeAsync();

    private async Task<Core.Labs.Lab> LabAsync(string slug) => (await Catalog.ListAsync()).Single(l => l.Slug == slug);

    private static UserRef User() => new(Guid.NewGuid(), "a@example.com", "A", false);

    [Fact]
    public async Task StartUp_MigratesAndLoadsCatalog_Idempotently()
    {
        await _postgres.StartHostedAsync();

        var scripts = typeof(DatabaseMigrator).Assembly.GetManifestResourceNames().Count(n => n.EndsWith(".sql", StringComparison.Ordinal));
        Assert.Equal(Directory.GetFiles(Path.Combine(RepoPaths.Root, "src", "LabManager.Infrastructure", "Postgres", "Migrations"), "*.sql").Length, scripts);
        Assert.Equal((long)scripts, await Db.ScalarAsync<long>("SELECT count(*) FROM schemaversions"));
        Assert.Equal(4L, await Db.ScalarAsync<long>("SELECT count(*) FROM labs"));
        var fromFile = LabDocument.ReadFile(RepoPaths.Catalog, new LabDefaults());
        var labs = await Catalog.ListAsync();
        Assert.Equal(fromFile.Select(l => l.Slug).Order(), labs.Select(l => l.Slug).Order());
        var dvwa = labs.Single(l => l.Slug == "dvwa-sql-injection");
        var expected = fromFile.Single(l => l.Slug == "dvwa-sql-injection");
        Assert.Equal(Canonical(expected), Canonical(dvwa));
    }

    [Fact]
    public async Task CatalogFile_LabNamingNoRegionPlanOrImage_GetsTheDeploymentsDefaults_ImageRoundTrips()
    {
        var path = Path.GetTempFileName();
        const string container = """{"containers":[{"name":"web","image":"nginx:1","ports":[{"hostPort":80,"containerPort":80}]}]}""";
        File.WriteAllText(path, $$"""
            [{"id":"6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a11","slug":"plain","name":"Plain","containerConfig":{{container}}},
             {"id":"6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a12","slug":"docker","name":"Docker","region":"ams","plan":"vc2-2c-4gb","image":{"imageId":"docker"},"containerConfig":{{container}}}]
            """);

        var labs = LabDocument.ReadFile(path, new LabDefaults("fra", "vc2-2c-4gb"));

        Assert.Equal(("fra", "vc2-2c-4gb", (Core.Ports.BootImage?)null), (labs[0].Region, labs[0].Plan, labs[0].Image));
        Assert.Equal(("ams", new Core.Ports.BootImage(ImageId: "docker")), (labs[1].Region, labs[1].Image));
        await _postgres.StartHostedAsync();
        await Services.GetRequiredService<PostgresLabCatalog>().SaveAsync(labs[1], "test");
        Assert.Equal(new Core.Ports.BootImage(ImageId: "docker"), (await Catalog.GetAsync(labs[1].Id))!.Image);
        File.WriteAllText(path, $$"""[{"id":"6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a13","slug":"two","name":"Two","image":{"osId":1743,"imageId":"docker"},"containerConfig":{{container}}}]""");
        Assert.Contains("[0].image: must name exactly one of osId, imageId or snapshotId", Assert.Throws<InvalidDataException>(() => LabDocument.ReadFile(path, new LabDefaults())).Message, StringComparison.Ordinal);
        File.Delete(path);
    }

    [Fact]
    public async Task CatalogFile_APool_RoundTrips_ABadOneRefused_AndOneSetLaterIsKeptByAFileThatNamesNone()
    {
        var path = Path.GetTempFileName();
        const string lab = """{"id":"6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a21","slug":"pooled","name":"Pooled","containerConfig":{"containers":[{"name":"web","image":"nginx:1","ports":[{"hostPort":80,"containerPort":80}]}]}}""";
        File.WriteAllText(path, "[" + lab[..^1] + ""","pool":{"min":2,"max":3,"maxAgeMinutes":90}}]""");
        var pooled = Assert.Single(LabDocument.ReadFile(path, new LabDefaults()));
        Assert.Equal(new LabPool(2, 3, 90), pooled.Pool);
        await _postgres.StartHostedAsync();
        var catalog = Services.GetRequiredService<PostgresLabCatalog>();
        await catalog.SaveAsync(pooled, "test");
        Assert.Equal(new LabPool(2, 3, 90), (await Catalog.GetAsync(pooled.Id))!.Pool);

        // Set through the API, then the file (naming no pool) loaded again at a start: the operator's pool stays.
        Assert.True(await Services.GetRequiredService<IPoolStore>().SetPoolAsync(pooled.Id, new LabPool(1, 1, 30)));
        await catalog.SaveAsync(pooled with { Pool = null }, "test");
        Assert.Equal(new LabPool(1, 1, 30), (await Catalog.GetAsync(pooled.Id))!.Pool);

        File.WriteAllText(path, "[" + lab[..^1] + ""","pool":{"min":3,"max":2}}]""");
        Assert.Contains("[0].pool.max: must be at least min", Assert.Throws<InvalidDataException>(() => LabDocument.ReadFile(path, new LabDefaults())).Message, StringComparison.Ordinal);
        File.Delete(path);
    }

    [Fact]
    public void CatalogFile_Invalid_RefusedWithReasons()
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, """[{"id":"6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a09","slug":"xx","name":"X","containerConfig":{"containers":[{"name":"bad name","image":"i"}]}}]""");
        var ex = Assert.Throws<InvalidDataException>(() => LabDocument.ReadFile(path, new LabDefaults()));
        Assert.Contains("[0].containerConfig.containers[0].name: 'bad name' must match", ex.Message, StringComparison.Ordinal);
        File.Delete(path);
    }

    [Fact]
    public async Task Instance_AddUpdateGet_RoundTripsEveryField()
    {
        var lab = await LabAsync("owasp-juice-shop");
        var user = User();
        var started = await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, lab, DateTimeOffset.UtcNow, Generous));
        var instance = Assert.IsType<StartOutcome.Created>(started).Instance;
        var now = DateTimeOffset.UtcNow;
        var changed = instance.MoveTo(LabInstanceStatus.Provisioning, now) with
        {
            CloudInstanceId = "vm-1",
            PublicIp = "203.0.113.9",
            InternalIp = "10.0.0.9",
            AccessUrl = "http://203.0.113.9:3000/",
            Ports = [3000, 22],
            StartedAt = now,
            ExpiresAt = now.AddHours(1),
            ErrorMessage = "none",
            RestartCount = 2,
            Vms = [new VmUsage("vm-0", Micro(now.AddMinutes(-30)), Micro(now.AddMinutes(-1))), new VmUsage("vm-1", Micro(now))],
        };

        await Instances.UpdateAsync(changed);
        var read = (await Instances.GetAsync(instance.Id))!;

        Assert.Equal(Truncate(changed), Truncate(read));
        Assert.Equal([3000, 22], read.Ports);
        Assert.Equal(changed.Vms, read.Vms);
        Assert.Equal(instance.Id, Assert.Single(await Instances.ListByUserAsync(user.Id)).Id);
        Assert.Contains(await Instances.ListAsync(activeOnly: true, 10), i => i.Id == instance.Id);
        Assert.Null(await Instances.GetAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task Booting_AreTheProvisioningWithAVm_ACloudRequestIsFirstOnce_AndEachWatchTurnIsTakenOnce()
    {
        var lab = await LabAsync("owasp-juice-shop");
        async Task<LabInstance> StartedAsync() =>
            Assert.IsType<StartOutcome.Created>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), User(), lab, DateTimeOffset.UtcNow, Generous))).Instance;
        var booting = await StartedAsync();
        var noVmYet = await StartedAsync();
        var running = await StartedAsync();
        var now = DateTimeOffset.UtcNow;
        await Instances.UpdateAsync(booting.MoveTo(LabInstanceStatus.Provisioning, now) with { CloudInstanceId = "vm-booting" });
        await Instances.UpdateAsync(noVmYet.MoveTo(LabInstanceStatus.Provisioning, now));
        await Instances.UpdateAsync(running.MoveTo(LabInstanceStatus.Provisioning, now).MoveTo(LabInstanceStatus.Running, now) with { CloudInstanceId = "vm-running" });

        Assert.Equal([(booting.Id, "vm-booting")], await Instances.ListBootingAsync());

        // A retry of the same create is told an earlier one may have been sent; another VM of the instance, or another instance, is first again.
        Assert.True(await Instances.FirstCloudRequestAsync(booting.Id, "vm-1"));
        Assert.False(await Instances.FirstCloudRequestAsync(booting.Id, "vm-1"));
        Assert.True(await Instances.FirstCloudRequestAsync(booting.Id, "vm-2"));
        Assert.True(await Instances.FirstCloudRequestAsync(noVmYet.Id, "vm-1"));
        Assert.False(await Instances.FirstCloudRequestAsync(Guid.NewGuid(), "vm-1"));

        // Replicas asking for the same turn at once: exactly one gets it; an older turn is never taken after a newer one.
        var takers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Instances.TakeWatchTurnAsync(1_000)));
        Assert.Single(takers, taken => taken);
        Assert.False(await Instances.TakeWatchTurnAsync(999));
        Assert.True(await Instances.TakeWatchTurnAsync(1_001));
    }

    [Fact]
    public async Task ActiveCounts_CountInstancesCreatedAndNotYetEndedAtEachMoment()
    {
        var lab = await LabAsync("owasp-juice-shop");
        var t0 = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        async Task Add(int createdMinute, int? endedMinute)
        {
            var started = await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), User(), lab, t0.AddMinutes(createdMinute), Generous));
            var instance = Assert.IsType<StartOutcome.Created>(started).Instance;
            if (endedMinute is { } ended)
            {
                await Instances.UpdateAsync(instance.MoveTo(LabInstanceStatus.Error, t0.AddMinutes(ended)));
            }
        }

        await Add(0, 2);
        await Add(1, null);
        await Add(3, 4);

        // At 2 the first has ended; at 4 the third has.
        Assert.Equal([1, 2, 1, 2, 1, 1], await Instances.ActiveCountsAsync(t0, TimeSpan.FromMinutes(1), 6));
        Assert.Equal([0, 0], await Instances.ActiveCountsAsync(t0.AddHours(-1), TimeSpan.FromMinutes(30), 2));
    }

    [Fact]
    public async Task UserNames_AsTheirLastStartToldThem()
    {
        var lab = await LabAsync("owasp-juice-shop");
        UserRef[] users = [User(), new(Guid.NewGuid(), null, "B", false), new(Guid.NewGuid(), "c@example.com", null, false), new(Guid.NewGuid(), null, null, false)];
        foreach (var user in users)
        {
            Assert.IsType<StartOutcome.Created>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, lab, DateTimeOffset.UtcNow, Generous)));
        }

        var names = await Instances.UserNamesAsync([.. users.Select(u => u.Id), Guid.NewGuid()]);
        Assert.Equal(3, names.Count);
        Assert.Equal("A <a@example.com>", names[users[0].Id]);
        Assert.Equal("B", names[users[1].Id]);
        Assert.Equal("c@example.com", names[users[2].Id]);
    }

    [Fact]
    public async Task TryStart_SameLabAgain_ReturnsExisting()
    {
        var lab = await LabAsync("network-recon");
        var user = User();
        var first = Assert.IsType<StartOutcome.Created>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, lab, DateTimeOffset.UtcNow, Generous)));
        var again = Assert.IsType<StartOutcome.Existing>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, lab, DateTimeOffset.UtcNow, Generous)));
        Assert.Equal(first.Instance.Id, again.Instance.Id);
        Assert.Equal(1L, await Db.ScalarAsync<long>("SELECT count(*) FROM lab_instances"));
    }

    [Fact]
    public async Task TryStart_UserQuotaFull_RefusedAndNothingWritten()
    {
        var labs = await Catalog.ListAsync();
        var user = User();
        var quotas = Generous with { MaxActivePerUser = 2 };
        var outcomes = new List<StartOutcome>();
        foreach (var lab in labs.Take(3))
        {
            outcomes.Add(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, lab, DateTimeOffset.UtcNow, quotas)));
        }

        Assert.IsType<StartOutcome.Created>(outcomes[0]);
        Assert.IsType<StartOutcome.Created>(outcomes[1]);
        Assert.Equal(new StartOutcome.QuotaExceeded("user", 2), outcomes[2]);
        Assert.Equal(2L, await Db.ScalarAsync<long>("SELECT count(*) FROM lab_instances"));
    }

    [Fact]
    public async Task TryStart_StoppingInstance_CountsAgainstLabQuota()
    {
        var lab = await LabAsync("dvwa-sql-injection");
        var user = User();
        var created = Assert.IsType<StartOutcome.Created>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, lab, DateTimeOffset.UtcNow, Generous)));
        await Instances.UpdateAsync(created.Instance.MoveTo(LabInstanceStatus.Stopping, DateTimeOffset.UtcNow));

        var outcome = await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, lab, DateTimeOffset.UtcNow, Generous));

        Assert.Equal(new StartOutcome.QuotaExceeded("lab", 1), outcome);
    }

    [Fact]
    public async Task TryStart_TooManyStartsInWindow_RateLimitedWithRetryAfter()
    {
        var labs = await Catalog.ListAsync();
        var user = User();
        var quotas = Generous with { MaxStartsPerWindow = 2, StartWindow = TimeSpan.FromMinutes(1) };
        var now = DateTimeOffset.UtcNow;
        Assert.IsType<StartOutcome.Created>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, labs[0], now, quotas)));
        Assert.IsType<StartOutcome.Created>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, labs[1], now.AddSeconds(10), quotas)));

        var limited = Assert.IsType<StartOutcome.RateLimited>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, labs[2], now.AddSeconds(20), quotas)));

        Assert.InRange(limited.RetryAfter, TimeSpan.FromSeconds(39), TimeSpan.FromSeconds(41));
        Assert.IsType<StartOutcome.Created>(await Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), user, labs[2], now.AddSeconds(61), quotas)));
    }

    [Fact]
    public async Task TryStart_200Concurrent_NeverMoreThanGlobalQuota()
    {
        var lab = await LabAsync("owasp-juice-shop");
        var quotas = Generous with { MaxActiveGlobal = 7 };

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ =>
            Instances.TryStartAsync(new StartRequest(Guid.NewGuid(), User(), lab, DateTimeOffset.UtcNow, quotas))));

        Assert.Equal(7, outcomes.Count(o => o is StartOutcome.Created));
        Assert.Equal(193, outcomes.Count(o => o == new StartOutcome.QuotaExceeded("global", 7)));
        Assert.Equal(7L, await Db.ScalarAsync<long>("SELECT count(*) FROM lab_instances"));
    }

    [Fact]
    public async Task ReconciliationLog_OneLockHolder_RunsRecordedNewestFirst()
    {
        var log = Services.GetRequiredService<IReconciliationLog>();
        await using (var first = await log.TryLockAsync())
        {
            Assert.NotNull(first);
            Assert.Null(await log.TryLockAsync());
        }

        await using (var again = await log.TryLockAsync())
        {
            Assert.NotNull(again);
        }

        var older = new ReconciliationReport(DateTimeOffset.UtcNow.AddMinutes(-5), TimeSpan.FromMilliseconds(120), 3, 2, 1, 0, 0, 0, Failures: []);
        ReconciliationFailure[] failures = [new("VM 5f0c (lab-x)", "Vultr delete instance answered 500: Unable to destroy server: Unable to remove VM: Server is currently locked")];
        var newer = older with { StartedAt = DateTimeOffset.UtcNow, LostWorkflows = 1, ForeignVms = 4, Failures = failures };
        await log.RecordAsync(older);
        await log.RecordAsync(newer);

        var recent = await log.RecentAsync(10);
        Assert.Equal([Micro(newer.StartedAt), Micro(older.StartedAt)], recent.Select(r => r.StartedAt));
        Assert.Equal(newer with { StartedAt = recent[0].StartedAt, Failures = recent[0].Failures }, recent[0]);
        Assert.Equal(failures, recent[0].Failures);
        Assert.Empty(recent[1].Failures!);
    }

    // Records holding lists compare by reference, and jsonb reorders keys: compare as JSON with sorted environments. The version is the catalog's.
    private static string Canonical(Core.Labs.Lab lab) => JsonSerializer.Serialize(lab with
    {
        Version = 0,
        ContainerConfig = lab.ContainerConfig with
        {
            Containers = [.. lab.ContainerConfig.Containers.Select(c => c with { Environment = new SortedDictionary<string, string>(c.Environment.ToDictionary(), StringComparer.Ordinal) })],
        },
    }, DbJson.Options);

    // PostgreSQL keeps microseconds.
    private static LabInstance Truncate(LabInstance i) => i with
    {
        CreatedAt = Micro(i.CreatedAt),
        StartedAt = i.StartedAt is { } s ? Micro(s) : null,
        ExpiresAt = i.ExpiresAt is { } e ? Micro(e) : null,
        EndedAt = i.EndedAt is { } n ? Micro(n) : null,
        Ports = [],
        Vms = [],
    };

    private static DateTimeOffset Micro(DateTimeOffset t) => new(t.Ticks - (t.Ticks % 10), t.Offset);
}
