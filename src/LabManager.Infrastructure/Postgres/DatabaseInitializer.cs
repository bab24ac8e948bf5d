using LabManager.Core.Ports;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Infrastructure.Postgres;

/// <summary>At start-up: applies migrations, then loads the lab catalog file (idempotent: upsert by slug).</summary>
public sealed class DatabaseInitializer(
    IOptions<PostgresOptions> options, PostgresLabCatalog catalog, IEnumerable<IInstanceCache> caches, IOptions<Vultr.VultrOptions> vultr,
    ILogger<DatabaseInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        DatabaseMigrator.Migrate(options.Value.ConnectionString, logger);
        if (options.Value.CatalogFile is { Length: > 0 } file)
        {
            var labs = LabCatalogFile.Read(file, vultr.Value.DefaultRegion, vultr.Value.DefaultPlan);
            foreach (var lab in labs)
            {
                await catalog.UpsertAsync(lab, cancellationToken);
            }

            foreach (var cache in caches)
            {
                await cache.RemoveCatalogAsync(cancellationToken);
            }

            logger.LogInformation("Lab catalog loaded: {Count} labs from {File}", labs.Count, file);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
