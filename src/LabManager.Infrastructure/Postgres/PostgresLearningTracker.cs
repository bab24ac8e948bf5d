using Dapper;
using LabManager.Core.Ports;
using Npgsql;

namespace LabManager.Infrastructure.Postgres;

/// <summary>Sessions per learner and lab in <c>user_progress</c>: count, time spent, cost, last outcome.</summary>
public sealed class PostgresLearningTracker(NpgsqlDataSource db) : ILearningTracker
{
    public async Task LabStartedAsync(Guid userId, Guid labId, Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        const string sql = """
            INSERT INTO user_progress (user_id, lab_id, sessions, last_started_at) VALUES (@userId, @labId, 1, @at)
            ON CONFLICT (user_id, lab_id) DO UPDATE SET sessions = user_progress.sessions + 1, last_started_at = excluded.last_started_at
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { userId, labId, at = at.UtcDateTime }, cancellationToken: cancellationToken));
    }

    public async Task LabEndedAsync(LabSessionSummary summary, CancellationToken cancellationToken = default)
    {
        const string sql = """
            INSERT INTO user_progress (user_id, lab_id, last_ended_at, last_outcome, total_seconds, total_cost)
            VALUES (@UserId, @LabId, @EndedAt, @Outcome, @Seconds, @Cost)
            ON CONFLICT (user_id, lab_id) DO UPDATE SET last_ended_at = excluded.last_ended_at, last_outcome = excluded.last_outcome,
                total_seconds = user_progress.total_seconds + excluded.total_seconds, total_cost = user_progress.total_cost + excluded.total_cost
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            summary.UserId,
            summary.LabId,
            EndedAt = summary.EndedAt.UtcDateTime,
            summary.Outcome,
            Seconds = (long)summary.VmLifetime.TotalSeconds,
            Cost = summary.Cost ?? 0m,
        }, cancellationToken: cancellationToken));
    }
}
