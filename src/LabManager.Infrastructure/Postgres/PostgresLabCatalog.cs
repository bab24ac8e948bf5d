using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Npgsql;

namespace LabManager.Infrastructure.Postgres;

/// <summary>
/// Lab definitions in the <c>labs</c> table, each change kept in <c>lab_versions</c>. A version never changes once written, so versions
/// read are kept in memory.
/// </summary>
public sealed class PostgresLabCatalog(NpgsqlDataSource db) : ILabCatalog, ILabCatalogStore
{
    private const string Columns = """
        id, slug, name, description, category, difficulty, estimated_time_minutes, points, tags, container_config::text AS container_config,
               exercises::text AS exercises, prerequisites, learning_objectives, timeout_minutes, max_instances_per_user, plan, region, image::text AS image, is_active,
               idle_timeout_minutes, pool::text AS pool, version, updated_at, updated_by
        """;

    private const string SelectLabs = "SELECT " + Columns + " FROM labs";

    /// <summary>The statuses of an instance that still has (or is about to have) a VM.</summary>
    private const string Live = "('starting', 'provisioning', 'running', 'stopping', 'pooled')";

    private const int SaveLockKey = 7_270_005;

    private readonly ConcurrentDictionary<(Guid, int), Lab> _versions = new();

    public async Task<Lab?> GetAsync(Guid labId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<LabRow>(new CommandDefinition(SelectLabs + " WHERE id = @labId AND deleted_at IS NULL", new { labId }, cancellationToken: cancellationToken));
        return row?.ToLab();
    }

    public async Task<Lab?> GetAsync(Guid labId, int version, CancellationToken cancellationToken = default)
    {
        var current = await GetAsync(labId, cancellationToken);
        return version == 0 || current?.Version == version ? current : await OldVersionAsync(labId, version, current?.IsActive ?? false, cancellationToken);
    }

    private async Task<Lab?> OldVersionAsync(Guid labId, int version, bool active, CancellationToken cancellationToken)
    {
        if (!_versions.TryGetValue((labId, version), out var lab))
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var definition = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
                "SELECT definition::text FROM lab_versions WHERE lab_id = @labId AND version = @version", new { labId, version }, cancellationToken: cancellationToken));
            if (definition is null)
            {
                return null;
            }

            lab = JsonSerializer.Deserialize<Lab>(definition, DbJson.Options)! with { Version = version };
            _versions[(labId, version)] = lab;
        }

        return lab with { IsActive = active };
    }

    public async Task<IReadOnlyList<Lab>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<LabRow>(new CommandDefinition(SelectLabs + " WHERE is_active AND deleted_at IS NULL ORDER BY name", cancellationToken: cancellationToken));
        return [.. rows.Select(r => r.ToLab())];
    }

    public async Task<IReadOnlyList<CatalogEntry>> ListAllAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<LabRow>(new CommandDefinition(
            $"SELECT {Columns}, (SELECT count(*) FROM lab_instances i WHERE i.lab_id = labs.id AND i.status IN {Live}) AS live FROM labs WHERE deleted_at IS NULL ORDER BY name",
            cancellationToken: cancellationToken));
        return [.. rows.Select(r => new CatalogEntry(r.ToLab(), (int)r.Live, DbTime.Utc(r.UpdatedAt), r.UpdatedBy))];
    }

    /// <summary>The slug's lab, deleted or not: the id a catalog file's lab is saved under (a file names labs by slug).</summary>
    public async Task<Guid?> IdOfSlugAsync(string slug, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition("SELECT id FROM labs WHERE slug = @slug", new { slug }, cancellationToken: cancellationToken));
    }

    public async Task<SaveOutcome> SaveAsync(Lab lab, string changedBy, string? note = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // Saves of one lab take turns (two replicas loading the file at once, two operators): the second sees the first's version.
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@SaveLockKey, hashtext(@Id::text))", new { SaveLockKey, lab.Id }, tx,
            cancellationToken: cancellationToken));
        var row = await connection.QuerySingleOrDefaultAsync<LabRow>(new CommandDefinition(
            $"SELECT {Columns}, deleted_at IS NOT NULL AS deleted FROM labs WHERE id = @Id FOR UPDATE", new { lab.Id }, tx, cancellationToken: cancellationToken));
        var current = row?.ToLab();
        var definition = LabDocument.Definition(lab);
        IReadOnlyList<string> changes = current is null ? ["created"] : LabDocument.Changes(LabDocument.Definition(current), definition);
        if (row is { Deleted: true } && changes.Count == 0)
        {
            changes = ["restored"];
        }

        var version = row is null ? 1 : changes.Count == 0 ? row.Version : row.Version + 1;
        var values = LabRow.From(lab with { Version = version });
        values.UpdatedBy = changedBy;
        try
        {
            if (row is null)
            {
                await connection.ExecuteAsync(new CommandDefinition("""
                    INSERT INTO labs (id, slug, name, description, category, difficulty, estimated_time_minutes, points, tags, container_config, exercises,
                                      prerequisites, learning_objectives, timeout_minutes, max_instances_per_user, plan, region, image, is_active, idle_timeout_minutes, pool,
                                      version, updated_by)
                    VALUES (@Id, @Slug, @Name, @Description, @Category, @Difficulty, @EstimatedTimeMinutes, @Points, @Tags, @ContainerConfig::jsonb, @Exercises::jsonb,
                            @Prerequisites, @LearningObjectives, @TimeoutMinutes, @MaxInstancesPerUser, @Plan, @Region, @Image::jsonb, @IsActive, @IdleTimeoutMinutes, @Pool::jsonb,
                            @Version, @UpdatedBy)
                    """, values, tx, cancellationToken: cancellationToken));
            }
            else if (changes.Count > 0)
            {
                await connection.ExecuteAsync(new CommandDefinition("""
                    UPDATE labs SET slug = @Slug, name = @Name, description = @Description, category = @Category, difficulty = @Difficulty,
                        estimated_time_minutes = @EstimatedTimeMinutes, points = @Points, tags = @Tags, container_config = @ContainerConfig::jsonb,
                        exercises = @Exercises::jsonb, prerequisites = @Prerequisites, learning_objectives = @LearningObjectives, timeout_minutes = @TimeoutMinutes,
                        max_instances_per_user = @MaxInstancesPerUser, plan = @Plan, region = @Region, image = @Image::jsonb, idle_timeout_minutes = @IdleTimeoutMinutes,
                        is_active = @IsActive, pool = coalesce(@Pool::jsonb, pool), version = @Version, updated_by = @UpdatedBy, deleted_at = NULL, updated_at = now()
                    WHERE id = @Id
                    """, values, tx, cancellationToken: cancellationToken));
            }
            else if (current!.IsActive != lab.IsActive || (lab.Pool is not null && lab.Pool != current.Pool))
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    "UPDATE labs SET is_active = @IsActive, pool = coalesce(@Pool::jsonb, pool), updated_by = @UpdatedBy, updated_at = now() WHERE id = @Id",
                    values, tx, cancellationToken: cancellationToken));
            }

            if (row is null || changes.Count > 0)
            {
                await connection.ExecuteAsync(new CommandDefinition("""
                    INSERT INTO lab_versions (lab_id, version, definition, changed_by, changes, note) VALUES (@Id, @version, @definition::jsonb, @changedBy, @changes, @note)
                    """, new { lab.Id, version, definition = definition.ToJsonString(DbJson.Options), changedBy, changes = changes.ToArray(), note }, tx, cancellationToken: cancellationToken));
            }

            await tx.CommitAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return new SaveOutcome(row?.Version ?? 0, [], false, $"slug: '{lab.Slug}' is another lab's");
        }

        return new SaveOutcome(version, changes.Count == 0 ? [] : changes, row is null);
    }

    /// <summary>
    /// Writes the first version of every lab that has none (labs loaded before versions were kept); done once at start-up, and
    /// nothing to do after that.
    /// </summary>
    public async Task KeepFirstVersionsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<LabRow>(new CommandDefinition(
            SelectLabs + " WHERE NOT EXISTS (SELECT 1 FROM lab_versions v WHERE v.lab_id = labs.id AND v.version = labs.version)", cancellationToken: cancellationToken));
        foreach (var lab in rows.Select(r => r.ToLab()))
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO lab_versions (lab_id, version, definition, changed_by, changes, note) VALUES (@Id, @Version, @definition::jsonb, 'catalog', '{created}', 'kept from before versions')
                ON CONFLICT DO NOTHING
                """, new { lab.Id, lab.Version, definition = LabDocument.Definition(lab).ToJsonString(DbJson.Options) }, cancellationToken: cancellationToken));
        }
    }

    public async Task<bool> SetActiveAsync(Guid labId, bool active, string changedBy, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE labs SET is_active = @active, updated_by = @changedBy, updated_at = now() WHERE id = @labId AND deleted_at IS NULL",
            new { labId, active, changedBy }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task<DeleteOutcome> DeleteAsync(Guid labId, string changedBy, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            "SELECT 1 FROM labs WHERE id = @labId AND deleted_at IS NULL FOR UPDATE", new { labId }, tx, cancellationToken: cancellationToken)) is null)
        {
            return new DeleteOutcome(false, false, 0);
        }

        var live = await connection.QuerySingleAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM lab_instances WHERE lab_id = @labId AND status IN {Live}", new { labId }, tx, cancellationToken: cancellationToken));
        // The row stays (past sessions and progress refer to it, its versions are history): a deleted lab is only hidden.
        await connection.ExecuteAsync(new CommandDefinition(
            $"UPDATE labs SET is_active = false, {(live == 0 ? "deleted_at = now(), " : "")}updated_by = @changedBy, updated_at = now() WHERE id = @labId",
            new { labId, changedBy }, tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
        return new DeleteOutcome(true, live == 0, (int)live);
    }

    public async Task<IReadOnlyList<LabVersionInfo>> VersionsAsync(Guid labId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(int Version, string ChangedBy, DateTime ChangedAt, string[] Changes, string? Note)>(new CommandDefinition(
            "SELECT version, changed_by, changed_at, changes, note FROM lab_versions WHERE lab_id = @labId ORDER BY version DESC", new { labId }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new LabVersionInfo(r.Version, r.ChangedBy, DbTime.Utc(r.ChangedAt), r.Changes, r.Note))];
    }

    /// <summary>The <c>labs</c> row as Dapper reads and writes it.</summary>
    private sealed class LabRow
    {
        public Guid Id { get; set; }
        public string Slug { get; set; } = "";
        public string Name { get; set; } = "";
        public string Description { get; set; } = "";
        public string Category { get; set; } = "";
        public string Difficulty { get; set; } = "";
        public int EstimatedTimeMinutes { get; set; }
        public int Points { get; set; }
        public string[] Tags { get; set; } = [];
        public string ContainerConfig { get; set; } = "";
        public string Exercises { get; set; } = "[]";
        public string[] Prerequisites { get; set; } = [];
        public string[] LearningObjectives { get; set; } = [];
        public int TimeoutMinutes { get; set; }
        public int? IdleTimeoutMinutes { get; set; }
        public int MaxInstancesPerUser { get; set; }
        public string Plan { get; set; } = "";
        public string Region { get; set; } = "";
        public string? Image { get; set; }
        public bool IsActive { get; set; }
        public string? Pool { get; set; }
        public int Version { get; set; }
        public DateTime UpdatedAt { get; set; }
        public string UpdatedBy { get; set; } = "";
        public long Live { get; set; }
        public bool Deleted { get; set; }

        public static LabRow From(Lab lab) => new()
        {
            Id = lab.Id,
            Slug = lab.Slug,
            Name = lab.Name,
            Description = lab.Description,
            Category = lab.Category,
            Difficulty = lab.Difficulty.ToString().ToLowerInvariant(),
            EstimatedTimeMinutes = lab.EstimatedTimeMinutes,
            Points = lab.Points,
            Tags = [.. lab.Tags],
            ContainerConfig = JsonSerializer.Serialize(lab.ContainerConfig, DbJson.Options),
            Exercises = JsonSerializer.Serialize(lab.Exercises, DbJson.Options),
            Prerequisites = [.. lab.Prerequisites],
            LearningObjectives = [.. lab.LearningObjectives],
            TimeoutMinutes = lab.TimeoutMinutes,
            IdleTimeoutMinutes = lab.IdleTimeoutMinutes,
            MaxInstancesPerUser = lab.MaxInstancesPerUser,
            Plan = lab.Plan,
            Region = lab.Region,
            Image = lab.Image is null ? null : JsonSerializer.Serialize(lab.Image, DbJson.Options),
            IsActive = lab.IsActive,
            Pool = lab.Pool is null ? null : JsonSerializer.Serialize(lab.Pool, DbJson.Options),
            Version = lab.Version,
        };

        public Lab ToLab() => new()
        {
            Id = Id,
            Slug = Slug,
            Name = Name,
            Description = Description,
            Category = Category,
            Difficulty = Enum.Parse<LabDifficulty>(Difficulty, ignoreCase: true),
            EstimatedTimeMinutes = EstimatedTimeMinutes,
            Points = Points,
            Tags = Tags,
            ContainerConfig = JsonSerializer.Deserialize<ContainerConfig>(ContainerConfig, DbJson.Options)!,
            Exercises = JsonSerializer.Deserialize<List<Exercise>>(Exercises, DbJson.Options)!,
            Prerequisites = Prerequisites,
            LearningObjectives = LearningObjectives,
            TimeoutMinutes = TimeoutMinutes,
            IdleTimeoutMinutes = IdleTimeoutMinutes,
            MaxInstancesPerUser = MaxInstancesPerUser,
            Plan = Plan,
            Region = Region,
            Image = Image is null ? null : JsonSerializer.Deserialize<Core.Ports.BootImage>(Image, DbJson.Options),
            IsActive = IsActive,
            Pool = Pool is null ? null : JsonSerializer.Deserialize<LabPool>(Pool, DbJson.Options),
            Version = Version,
        };
    }
}
