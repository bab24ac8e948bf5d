using LabManager.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LabManager.Infrastructure.Tests;

/// <summary>A fresh database with the PostgreSQL adapters wired and started (migrations applied, catalog loaded).</summary>
internal sealed class PostgresServices : IAsyncDisposable
{
    private PostgresServices(TestDatabase db, ServiceProvider services)
    {
        Db = db;
        Services = services;
    }

    public TestDatabase Db { get; }
    public ServiceProvider Services { get; }

    public static async Task<PostgresServices> StartAsync()
    {
        var db = await TestDatabase.CreateAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = db.ConnectionString,
            ["Catalog:File"] = RepoPaths.Catalog,
        }).Build();
        var services = new ServiceCollection().AddLogging().AddPostgres(configuration).BuildServiceProvider();
        var started = new PostgresServices(db, services);
        await started.StartHostedAsync();
        return started;
    }

    /// <summary>Runs the start-up work (migrations, catalog) again.</summary>
    public async Task StartHostedAsync()
    {
        foreach (var hosted in Services.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        await Db.DisposeAsync();
    }
}
