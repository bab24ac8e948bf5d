using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Infrastructure.Postgres;

/// <summary>
/// At start-up: applies migrations, then loads the lab catalog file (<c>Catalog:File</c>) with the rules the API applies: nothing is
/// saved when any lab is wrong. Each lab is saved under the id its slug already has; an unchanged lab makes no new version.
/// <c>Catalog:Mode=file</c> also deactivates every lab the file does not hold.
/// </summary>
public sealed class DatabaseInitializer(
    IOptions<PostgresOptions> options, IOptions<CatalogOptions> catalogOptions, PostgresLabCatalog catalog, ILabCatalogStore store, LabDefaults defaults,
    IEnumerable<ICloudProvider> clouds, ILogger<DatabaseInitializer> logger) : IHostedService
{
    public const string FileAuthor = "catalog file";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        DatabaseMigrator.Migrate(options.Value.ConnectionString, logger);
        await catalog.KeepFirstVersionsAsync(cancellationToken);
        if (catalogOptions.Value.File is { Length: > 0 } file)
        {
            await LoadAsync(file, catalogOptions.Value.Mode, cancellationToken);
        }
    }

    private async Task LoadAsync(string file, CatalogMode mode, CancellationToken cancellationToken)
    {
        var labs = LabDocument.ReadFile(file, defaults, await OfferAsync(cancellationToken));
        int created = 0, changed = 0;
        foreach (var lab in labs)
        {
            var id = await catalog.IdOfSlugAsync(lab.Slug, cancellationToken) ?? lab.Id;
            var saved = await store.SaveAsync(lab with { Id = id }, FileAuthor, Path.GetFileName(file), cancellationToken);
            if (saved.Conflict is { } conflict)
            {
                throw new InvalidDataException($"Lab catalog {file}: {lab.Slug}: {conflict}");
            }

            created += saved.Created ? 1 : 0;
            changed += !saved.Created && saved.Changes.Count > 0 ? 1 : 0;
        }

        var retired = 0;
        if (mode == CatalogMode.File)
        {
            foreach (var entry in (await store.ListAllAsync(cancellationToken)).Where(e => e.Lab.IsActive && labs.All(l => l.Slug != e.Lab.Slug)))
            {
                await store.SetActiveAsync(entry.Lab.Id, false, FileAuthor, cancellationToken);
                logger.LogWarning("Lab catalog: {Lab} is not in {File} (Catalog:Mode=file); deactivated", entry.Lab.Slug, file);
                retired++;
            }
        }

        logger.LogInformation("Lab catalog loaded from {File} ({Mode}): {Count} labs, {Created} new, {Changed} changed, {Retired} deactivated",
            file, mode, labs.Count, created, changed, retired);
    }

    /// <summary>The cloud's plans and regions, or null (logged) when it cannot be asked now: a start is not held up by the cloud.</summary>
    private async Task<CloudOffer?> OfferAsync(CancellationToken cancellationToken)
    {
        if (clouds.FirstOrDefault() is not { } cloud)
        {
            return null;
        }

        try
        {
            return await cloud.GetOfferAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Lab catalog: the cloud's plans and regions could not be read ({Reason}); the labs' plans and regions are not checked", ex.Message);
            return null;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
