using System.Text.Json;
using Dapper;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using Npgsql;

namespace LabManager.Infrastructure.Postgres;

/// <summary>
/// Heartbeats in PostgreSQL, bounded per instance: the latest in <c>instance_heartbeats</c> (its containers, log tails and what the next
/// compares with), and in <c>instance_stats</c> the first heartbeat of each minute, for one hour.
/// </summary>
public sealed class PostgresLabHealthStore(NpgsqlDataSource db) : ILabHealthStore
{
    private static readonly TimeSpan SeriesLength = TimeSpan.FromHours(1);

    public async Task<HeartbeatRecorded?> RecordAsync(Guid instanceId, int generation, HeartbeatBody body, DateTimeOffset now, TimeSpan minInterval, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var before = await connection.QuerySingleOrDefaultAsync<PreviousRow>(new CommandDefinition("""
            SELECT received_at, generation, boot, failing, restarted, degraded, net_total FROM instance_heartbeats WHERE instance_id = @instanceId FOR UPDATE
            """, new { instanceId }, tx, cancellationToken: cancellationToken));
        if (before is not null && DbTime.Utc(before.ReceivedAt) > now - minInterval)
        {
            return null;
        }

        // What the next heartbeat compares with belongs to one boot of one VM.
        var same = before is not null && before.Generation == generation && before.Boot == body.Boot;
        var reading = HeartbeatReading.From(body, same ? before!.Failing : [], same ? before!.Restarted : []);
        var logs = (body.Logs ?? []).ToDictionary(l => LabAgent.Name(l.Name!), l => LabAgent.Text(LabAgent.Decode(l.Tail)!), StringComparer.Ordinal);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO instance_heartbeats (instance_id, received_at, generation, boot, containers, logs, failing, restarted, degraded, net_total, silent_at)
            VALUES (@instanceId, @now, @generation, @boot, @containers::jsonb, @logs::jsonb, @failing, @restarted, @degraded, @netTotal, NULL)
            ON CONFLICT (instance_id) DO UPDATE SET received_at = excluded.received_at, generation = excluded.generation, boot = excluded.boot,
                containers = excluded.containers, logs = excluded.logs, failing = excluded.failing, restarted = excluded.restarted,
                degraded = excluded.degraded, net_total = excluded.net_total, silent_at = NULL
            """, new
        {
            instanceId, now = now.UtcDateTime, generation, boot = body.Boot,
            containers = JsonSerializer.Serialize(reading.Containers, DbJson.Options), logs = JsonSerializer.Serialize(logs, DbJson.Options),
            failing = reading.Failing.ToArray(), restarted = reading.Restarted.ToArray(), degraded = reading.Degraded, netTotal = reading.NetTotal,
        }, tx, cancellationToken: cancellationToken));
        var c = reading.Containers;
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO instance_stats (instance_id, minute, cpu_percent, memory_used, memory_limit, net_in, net_out)
            VALUES (@instanceId, date_trunc('minute', @now), @cpu, @memUsed, @memLimit, @netIn, @netOut) ON CONFLICT DO NOTHING;
            DELETE FROM instance_stats WHERE instance_id = @instanceId AND minute <= @oldest;
            """, new
        {
            instanceId, now = now.UtcDateTime, oldest = (now - SeriesLength).UtcDateTime,
            cpu = (float?)Sum(c, x => x.CpuPercent), memUsed = Sum(c, x => x.MemoryUsed), memLimit = Sum(c, x => x.MemoryLimit),
            netIn = Sum(c, x => x.NetIn), netOut = Sum(c, x => x.NetOut),
        }, tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
        return new HeartbeatRecorded(reading, before?.Degraded ?? false, same ? before!.NetTotal : null);
    }

    public async Task<InstanceHealth?> GetAsync(Guid instanceId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<LatestRow>(new CommandDefinition("""
            SELECT received_at, generation, boot, degraded, silent_at IS NOT NULL AS silent, containers::text AS containers FROM instance_heartbeats WHERE instance_id = @instanceId
            """, new { instanceId }, cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }

        var points = await connection.QueryAsync<PointRow>(new CommandDefinition("""
            SELECT minute, cpu_percent, memory_used, memory_limit, net_in, net_out FROM instance_stats
            WHERE instance_id = @instanceId AND minute > @oldest ORDER BY minute
            """, new { instanceId, oldest = (now - SeriesLength).UtcDateTime }, cancellationToken: cancellationToken));
        return new InstanceHealth(DbTime.Utc(row.ReceivedAt), row.Generation, row.Boot, row.Degraded, row.Silent, Containers(row.Containers),
            [.. points.Select(p => new StatsPoint(DbTime.Utc(p.Minute), p.CpuPercent, p.MemoryUsed, p.MemoryLimit, p.NetIn, p.NetOut))]);
    }

    public async Task<(DateTimeOffset ReceivedAt, IReadOnlyDictionary<string, string> Tails)?> LogsAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<(DateTime ReceivedAt, string Logs)?>(new CommandDefinition(
            "SELECT received_at, logs::text FROM instance_heartbeats WHERE instance_id = @instanceId", new { instanceId }, cancellationToken: cancellationToken));
        return row is { } r ? (DbTime.Utc(r.ReceivedAt), JsonSerializer.Deserialize<Dictionary<string, string>>(r.Logs, DbJson.Options) ?? []) : null;
    }

    public async Task<IReadOnlyDictionary<Guid, HealthSummary>> SummariesAsync(IReadOnlyCollection<Guid> instanceIds, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition("""
            SELECT instance_id, received_at, degraded, silent_at IS NOT NULL AS silent, containers::text AS containers FROM instance_heartbeats WHERE instance_id = ANY(@ids)
            """, new { ids = instanceIds.ToArray() }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.InstanceId, r =>
        {
            var c = Containers(r.Containers);
            return new HealthSummary(DbTime.Utc(r.ReceivedAt), r.Degraded, r.Silent, Sum(c, x => x.CpuPercent), Sum(c, x => x.MemoryUsed), Sum(c, x => x.MemoryLimit));
        });
    }

    public async Task<IReadOnlyList<Guid>> TakeSilentAsync(DateTimeOffset before, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return [.. await connection.QueryAsync<Guid>(new CommandDefinition("""
            UPDATE instance_heartbeats h SET silent_at = @now FROM lab_instances i
            WHERE i.id = h.instance_id AND i.status = 'running' AND h.silent_at IS NULL AND h.received_at < @before AND i.updated_at < @before
            RETURNING h.instance_id
            """, new { before = before.UtcDateTime, now = now.UtcDateTime }, cancellationToken: cancellationToken))];
    }

    private static List<ContainerHealth> Containers(string json) => JsonSerializer.Deserialize<List<ContainerHealth>>(json, DbJson.Options) ?? [];

    private static double? Sum(IReadOnlyList<ContainerHealth> containers, Func<ContainerHealth, double?> value) =>
        containers.Any(c => value(c) is not null) ? Math.Round(containers.Sum(c => value(c) ?? 0), 2) : null;

    private static long? Sum(IReadOnlyList<ContainerHealth> containers, Func<ContainerHealth, long?> value) =>
        containers.Any(c => value(c) is not null) ? containers.Sum(c => value(c) ?? 0) : null;

    // Properties, not a constructor: Dapper names a text[] column's type only as Array.
    private sealed class PreviousRow
    {
        public DateTime ReceivedAt { get; init; }
        public int Generation { get; init; }
        public int Boot { get; init; }
        public string[] Failing { get; init; } = [];
        public string[] Restarted { get; init; } = [];
        public bool Degraded { get; init; }
        public long NetTotal { get; init; }
    }

    private sealed record LatestRow(DateTime ReceivedAt, int Generation, int Boot, bool Degraded, bool Silent, string Containers);

    private sealed record SummaryRow(Guid InstanceId, DateTime ReceivedAt, bool Degraded, bool Silent, string Containers);

    private sealed record PointRow(DateTime Minute, float? CpuPercent, long? MemoryUsed, long? MemoryLimit, long? NetIn, long? NetOut);
}
