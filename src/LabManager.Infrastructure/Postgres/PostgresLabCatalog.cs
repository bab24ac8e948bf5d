using System.Text.Json;
using Dapper;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Npgsql;

namespace LabManager.Infrastructure.Postgres;

/// <summary>Lab definitions in the <c>labs</c> table.</summary>
public sealed class PostgresLabCatalog(NpgsqlDataSource db) : ILabCatalog
{
    private const string SelectLabs = """
        SELECT id, slug, name, description, category, difficulty, estimated_time_minutes, points, tags, container_config::text AS container_config,
               exercises::text AS exercises, prerequisites, learning_objectives, timeout_minutes, max_instances_per_user, plan, region, image::text AS image, is_active, idle_timeout_minutes, pool::text AS pool
        FROM labs
        """;

    public async Task<Lab?> GetAsync(Guid labId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<LabRow>(new CommandDefinition(SelectLabs + " WHERE id = @labId", new { labId }, cancellationToken: cancellationToken));
        return row?.ToLab();
    }

    public async Task<IReadOnlyList<Lab>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<LabRow>(new CommandDefinition(SelectLabs + " WHERE is_active ORDER BY name", cancellationToken: cancellationToken));
        return [.. rows.Select(r => r.ToLab())];
    }

    /// <summary>
    /// Inserts the lab, or updates the one with the same slug (its id is kept); a pool the lab does not name is left as the API set it.
    /// </summary>
    public async Task UpsertAsync(Lab lab, CancellationToken cancellationToken = default)
    {
        const string sql = """
            INSERT INTO labs (id, slug, name, description, category, difficulty, estimated_time_minutes, points, tags, container_config, exercises,
                              prerequisites, learning_objectives, timeout_minutes, max_instances_per_user, plan, region, image, is_active, idle_timeout_minutes, pool)
            VALUES (@Id, @Slug, @Name, @Description, @Category, @Difficulty, @EstimatedTimeMinutes, @Points, @Tags, @ContainerConfig::jsonb, @Exercises::jsonb,
                    @Prerequisites, @LearningObjectives, @TimeoutMinutes, @MaxInstancesPerUser, @Plan, @Region, @Image::jsonb, @IsActive, @IdleTimeoutMinutes, @Pool::jsonb)
            ON CONFLICT (slug) DO UPDATE SET
                name = excluded.name, description = excluded.description, category = excluded.category, difficulty = excluded.difficulty,
                estimated_time_minutes = excluded.estimated_time_minutes, points = excluded.points, tags = excluded.tags,
                container_config = excluded.container_config, exercises = excluded.exercises, prerequisites = excluded.prerequisites,
                learning_objectives = excluded.learning_objectives, timeout_minutes = excluded.timeout_minutes,
                max_instances_per_user = excluded.max_instances_per_user, plan = excluded.plan, region = excluded.region, image = excluded.image, idle_timeout_minutes = excluded.idle_timeout_minutes,
                is_active = excluded.is_active, pool = coalesce(excluded.pool, labs.pool), updated_at = now()
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, LabRow.From(lab), cancellationToken: cancellationToken));
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
        };
    }
}
