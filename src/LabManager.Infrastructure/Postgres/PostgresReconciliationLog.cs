using System.Text.Json;
using Dapper;
using LabManager.Core.Ports;
using Npgsql;

namespace LabManager.Infrastructure.Postgres;

/// <summary>Reconciliation runs in <c>reconciliation_runs</c>; the lock is a session-level PostgreSQL advisory lock.</summary>
public sealed class PostgresReconciliationLog(NpgsqlDataSource db) : IReconciliationLog
{
    private const long LockKey = 7_270_002;

    public async Task<IAsyncDisposable?> TryLockAsync(CancellationToken cancellationToken = default)
    {
        var connection = await db.OpenConnectionAsync(cancellationToken);
        if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition("SELECT pg_try_advisory_lock(@LockKey)", new { LockKey }, cancellationToken: cancellationToken)))
        {
            return new Lease(connection);
        }

        await connection.DisposeAsync();
        return null;
    }

    public async Task RecordAsync(ReconciliationReport report, CancellationToken cancellationToken = default)
    {
        const string sql = """
            INSERT INTO reconciliation_runs (started_at, duration_ms, tagged_vms, active_instances, orphans_destroyed, expired_ended, vanished_vms, lost_workflows, stops_resent,
                                             foreign_vms, failures, firewalls_deleted)
            VALUES (@StartedAt, @DurationMs, @TaggedVms, @ActiveInstances, @OrphansDestroyed, @ExpiredEnded, @VanishedVms, @LostWorkflows, @StopsResent,
                    @ForeignVms, @Failures::jsonb, @FirewallsDeleted)
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            StartedAt = report.StartedAt.UtcDateTime,
            DurationMs = (int)report.Duration.TotalMilliseconds,
            report.TaggedVms,
            report.ActiveInstances,
            report.OrphansDestroyed,
            report.ExpiredEnded,
            report.VanishedVms,
            report.LostWorkflows,
            report.StopsResent,
            report.ForeignVms,
            report.FirewallsDeleted,
            Failures = JsonSerializer.Serialize(report.Failures ?? [], DbJson.Options),
        }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<ReconciliationReport>> RecentAsync(int count, CancellationToken cancellationToken = default)
    {
        const string sql = """
            SELECT started_at, duration_ms, tagged_vms, active_instances, orphans_destroyed, expired_ended, vanished_vms, lost_workflows, stops_resent,
                   foreign_vms, failures::text, firewalls_deleted
            FROM reconciliation_runs ORDER BY started_at DESC LIMIT @count
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(DateTime StartedAt, int DurationMs, int TaggedVms, int ActiveInstances, int Orphans, int Expired, int Vanished, int Lost, int Resent,
            int Foreign, string Failures, int Firewalls)>(new CommandDefinition(sql, new { count }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new ReconciliationReport(
            DbTime.Utc(r.StartedAt), TimeSpan.FromMilliseconds(r.DurationMs),
            r.TaggedVms, r.ActiveInstances, r.Orphans, r.Expired, r.Vanished, r.Lost, r.Resent, r.Foreign,
            JsonSerializer.Deserialize<List<ReconciliationFailure>>(r.Failures, DbJson.Options), r.Firewalls))];
    }

    private sealed class Lease(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@LockKey)", new { LockKey });
            await connection.DisposeAsync();
        }
    }
}
