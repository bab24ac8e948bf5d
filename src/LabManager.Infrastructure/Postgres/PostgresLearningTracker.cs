using System.Text.Json;
using Dapper;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Npgsql;

namespace LabManager.Infrastructure.Postgres;

/// <summary>
/// Learning progress in PostgreSQL: each session in <c>learning_sessions</c> (totals per lab in <c>user_progress</c>), submissions,
/// completed exercises and revealed hints, the learner memory (rebuilt after every session, submission and hint) and the
/// tutor's daily quota. Recording a session start or end twice (an activity retried) counts it once.
/// </summary>
public sealed class PostgresLearningTracker(NpgsqlDataSource db, TimeProvider time) : ILearningTracker, ILearningProgress
{
    private const int MemoryItems = 10;

    public async Task LabStartedAsync(Guid userId, Guid labId, Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        const string sql = """
            WITH s AS (
                INSERT INTO learning_sessions (instance_id, user_id, lab_id, started_at) VALUES (@instanceId, @userId, @labId, @at)
                ON CONFLICT (instance_id) DO NOTHING RETURNING 1)
            INSERT INTO user_progress (user_id, lab_id, sessions, last_started_at) SELECT @userId, @labId, 1, @at FROM s
            ON CONFLICT (user_id, lab_id) DO UPDATE SET sessions = user_progress.sessions + 1, last_started_at = excluded.last_started_at
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { instanceId, userId, labId, at = at.UtcDateTime }, cancellationToken: cancellationToken));
    }

    public async Task LabEndedAsync(LabSessionSummary summary, CancellationToken cancellationToken = default)
    {
        const string sql = """
            WITH s AS (
                INSERT INTO learning_sessions (instance_id, user_id, lab_id, started_at, ended_at, duration_seconds, cost, outcome)
                VALUES (@InstanceId, @UserId, @LabId, @StartedAt, @EndedAt, @Seconds, @Cost, @Outcome)
                ON CONFLICT (instance_id) DO UPDATE SET ended_at = excluded.ended_at, duration_seconds = excluded.duration_seconds,
                    cost = excluded.cost, outcome = excluded.outcome
                WHERE learning_sessions.ended_at IS NULL
                RETURNING 1)
            INSERT INTO user_progress (user_id, lab_id, last_ended_at, last_outcome, total_seconds, total_cost)
            SELECT @UserId, @LabId, @EndedAt, @Outcome, @Seconds, @Cost FROM s
            ON CONFLICT (user_id, lab_id) DO UPDATE SET last_ended_at = excluded.last_ended_at, last_outcome = excluded.last_outcome,
                total_seconds = user_progress.total_seconds + excluded.total_seconds, total_cost = user_progress.total_cost + excluded.total_cost
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            summary.InstanceId,
            summary.UserId,
            summary.LabId,
            StartedAt = summary.StartedAt?.UtcDateTime,
            EndedAt = summary.EndedAt.UtcDateTime,
            // The time the lab was usable; the cost counts every VM-hour.
            Seconds = summary.StartedAt is { } started ? Math.Max(0, (long)(summary.EndedAt - started).TotalSeconds) : 0,
            Cost = summary.Cost ?? 0m,
            summary.Outcome,
        }, cancellationToken: cancellationToken));
        await RefreshMemoryAsync(connection, summary.UserId, cancellationToken);
    }

    public async Task StoreFlagsAsync(Guid instanceId, IReadOnlyDictionary<string, string> exerciseHashes, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO instance_flags (instance_id, exercise_id, flag_sha256) SELECT @instanceId, e, h FROM unnest(@exercises, @hashes) AS f (e, h)
            ON CONFLICT (instance_id, exercise_id) DO NOTHING
            """, new { instanceId, exercises = exerciseHashes.Keys.ToArray(), hashes = exerciseHashes.Values.ToArray() }, cancellationToken: cancellationToken));
    }

    public async Task<bool> HasStartedAsync(Guid userId, Guid labId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM lab_instances WHERE user_id = @userId AND lab_id = @labId)", new { userId, labId }, cancellationToken: cancellationToken));
    }

    public async Task<bool> CheckOwnFlagAsync(Guid userId, Lab lab, Exercise exercise, string answer, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var owners = (await connection.QueryAsync<(Guid InstanceId, Guid UserId)>(new CommandDefinition("""
            SELECT f.instance_id, i.user_id FROM instance_flags f JOIN lab_instances i ON i.id = f.instance_id
            WHERE f.flag_sha256 = @hash AND f.exercise_id = @exerciseId AND i.lab_id = @labId
            """, new { hash = Flags.Hash(answer), exerciseId = exercise.Id, labId = lab.Id }, cancellationToken: cancellationToken))).ToList();
        if (owners.Any(o => o.UserId == userId))
        {
            return true;
        }

        foreach (var owner in owners)
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO shared_flag_signals (at, user_id, lab_id, exercise_id, flag_instance_id, flag_user_id)
                VALUES (@at, @userId, @labId, @exerciseId, @InstanceId, @UserIdOfFlag)
                """, new { at = at.UtcDateTime, userId, labId = lab.Id, exerciseId = exercise.Id, owner.InstanceId, UserIdOfFlag = owner.UserId },
                cancellationToken: cancellationToken));
        }

        return false;
    }

    public async Task<IReadOnlyList<SharedFlagSignal>> SharedFlagSignalsAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(DateTime At, Guid UserId, Guid LabId, string ExerciseId, Guid FlagInstanceId, Guid FlagUserId)>(new CommandDefinition("""
            SELECT at, user_id, lab_id, exercise_id, flag_instance_id, flag_user_id FROM shared_flag_signals WHERE at >= @since ORDER BY at DESC, id DESC LIMIT @limit
            """, new { since = since.UtcDateTime, limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new SharedFlagSignal(DbTime.Utc(r.At), r.UserId, r.LabId, r.ExerciseId, r.FlagInstanceId, r.FlagUserId))];
    }

    public async Task<LabProgress> GetLabProgressAsync(Guid userId, Lab lab, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var args = new { userId, labId = lab.Id };
        var sessions = await connection.QueryAsync<SessionRow>(new CommandDefinition("""
            SELECT instance_id, started_at, ended_at, duration_seconds, cost, outcome FROM learning_sessions
            WHERE user_id = @userId AND lab_id = @labId ORDER BY coalesce(started_at, ended_at) DESC LIMIT 50
            """, args, cancellationToken: cancellationToken));
        var completions = (await connection.QueryAsync<(string ExerciseId, int Points)>(new CommandDefinition(
            "SELECT exercise_id, points FROM exercise_completions WHERE user_id = @userId AND lab_id = @labId", args, cancellationToken: cancellationToken)))
            .ToDictionary(c => c.ExerciseId, c => c.Points);
        var attempts = (await connection.QueryAsync<(string ExerciseId, long Count)>(new CommandDefinition(
            "SELECT exercise_id, count(*) FROM exercise_submissions WHERE user_id = @userId AND lab_id = @labId GROUP BY exercise_id", args, cancellationToken: cancellationToken)))
            .ToDictionary(a => a.ExerciseId, a => (int)a.Count);
        var hints = (await connection.QueryAsync<(string ExerciseId, string HintId)>(new CommandDefinition(
            "SELECT exercise_id, hint_id FROM hint_reveals WHERE user_id = @userId AND lab_id = @labId ORDER BY revealed_at", args, cancellationToken: cancellationToken)))
            .ToLookup(h => h.ExerciseId, h => h.HintId);

        var exercises = lab.Exercises.Select(e => new ExerciseProgress(
            e.Id, e.Title, e.Points, completions.ContainsKey(e.Id), completions.GetValueOrDefault(e.Id), attempts.GetValueOrDefault(e.Id),
            [.. e.Hints.Where(h => hints[e.Id].Contains(h.Id)).Select(h => new RevealedHint(h.Id, h.Text, h.Cost))])).ToList();
        return new LabProgress(lab.Id, lab.Name, [.. sessions.Select(s => s.ToSession())], exercises, completions.Values.Sum());
    }

    public async Task<UserProgress> GetUserProgressAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var labs = await connection.QueryAsync<LabSummaryRow>(new CommandDefinition("""
            SELECT l.id AS lab_id, l.name AS lab_name, coalesce(p.sessions, 0) AS sessions, coalesce(p.total_seconds, 0) AS total_seconds,
                   coalesce(p.total_cost, 0) AS total_cost, p.last_outcome,
                   (SELECT count(*) FROM exercise_completions c WHERE c.user_id = @userId AND c.lab_id = l.id) AS exercises_completed,
                   (SELECT coalesce(sum(points), 0) FROM exercise_completions c WHERE c.user_id = @userId AND c.lab_id = l.id) AS points
            FROM labs l LEFT JOIN user_progress p ON p.lab_id = l.id AND p.user_id = @userId
            WHERE p.user_id IS NOT NULL
               OR EXISTS (SELECT 1 FROM exercise_submissions s WHERE s.user_id = @userId AND s.lab_id = l.id)
               OR EXISTS (SELECT 1 FROM hint_reveals h WHERE h.user_id = @userId AND h.lab_id = l.id)
            ORDER BY l.name
            """, new { userId }, cancellationToken: cancellationToken));
        var summaries = labs.Select(l => new LabProgressSummary(l.LabId, l.LabName, l.Sessions, l.TotalSeconds, l.TotalCost, l.LastOutcome,
            (int)l.ExercisesCompleted, (int)l.Points)).ToList();
        return new UserProgress(summaries.Sum(s => s.Points), summaries, await ReadMemoryAsync(connection, userId, cancellationToken));
    }

    public async Task<SubmissionOutcome> SubmitAsync(Guid userId, Lab lab, Exercise exercise, bool correct, DateTimeOffset at, int maxPerWindow, TimeSpan window,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using (var tx = await connection.BeginTransactionAsync(cancellationToken))
        {
            // One learner's submissions are counted and recorded one at a time, so a burst cannot slip past the limit.
            await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(hashtextextended(@key, 0))",
                new { key = "submit:" + userId }, tx, cancellationToken: cancellationToken));
            var (count, oldest) = await connection.QuerySingleAsync<(long, DateTime?)>(new CommandDefinition(
                "SELECT count(*), min(at) FROM exercise_submissions WHERE user_id = @userId AND at > @since",
                new { userId, since = (at - window).UtcDateTime }, tx, cancellationToken: cancellationToken));
            if (count >= maxPerWindow)
            {
                var retry = DbTime.Utc(oldest!.Value) + window - at;
                return new SubmissionOutcome.RateLimited(retry > TimeSpan.Zero ? retry : TimeSpan.FromSeconds(1));
            }

            var args = new { userId, labId = lab.Id, exerciseId = exercise.Id, correct, at = at.UtcDateTime, points = exercise.Points };
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO exercise_submissions (user_id, lab_id, exercise_id, correct, at) VALUES (@userId, @labId, @exerciseId, @correct, @at)",
                args, tx, cancellationToken: cancellationToken));
            var completedBefore = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT EXISTS (SELECT 1 FROM exercise_completions WHERE user_id = @userId AND lab_id = @labId AND exercise_id = @exerciseId)",
                args, tx, cancellationToken: cancellationToken));
            var awarded = 0;
            if (correct && !completedBefore)
            {
                awarded = await connection.ExecuteScalarAsync<int>(new CommandDefinition("""
                    INSERT INTO exercise_completions (user_id, lab_id, exercise_id, points, completed_at)
                    SELECT @userId, @labId, @exerciseId, greatest(0, @points - coalesce(sum(cost), 0)), @at
                    FROM hint_reveals WHERE user_id = @userId AND lab_id = @labId AND exercise_id = @exerciseId
                    RETURNING points
                    """, args, tx, cancellationToken: cancellationToken));
                // A learner may answer before ever starting a lab, so before their user row exists.
                await connection.ExecuteAsync(new CommandDefinition("""
                    INSERT INTO users (id) VALUES (@userId) ON CONFLICT DO NOTHING;
                    INSERT INTO user_progress (user_id, lab_id, points)
                    SELECT @userId, @labId, sum(points) FROM exercise_completions WHERE user_id = @userId AND lab_id = @labId
                    ON CONFLICT (user_id, lab_id) DO UPDATE SET points = excluded.points
                    """, args, tx, cancellationToken: cancellationToken));
            }

            await tx.CommitAsync(cancellationToken);
            var total = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                "SELECT coalesce(sum(points), 0)::int FROM exercise_completions WHERE user_id = @userId", args, cancellationToken: cancellationToken));
            await RefreshMemoryAsync(connection, userId, cancellationToken);
            return new SubmissionOutcome.Recorded(correct, completedBefore, awarded, total);
        }
    }

    public async Task<HintReveal> RevealHintAsync(Guid userId, Lab lab, Exercise exercise, Hint hint, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO hint_reveals (user_id, lab_id, exercise_id, hint_id, cost, revealed_at) VALUES (@userId, @labId, @exerciseId, @hintId, @cost, @at)
            ON CONFLICT DO NOTHING
            """, new { userId, labId = lab.Id, exerciseId = exercise.Id, hintId = hint.Id, cost = hint.Cost, at = at.UtcDateTime }, cancellationToken: cancellationToken));
        await RefreshMemoryAsync(connection, userId, cancellationToken);
        return new HintReveal(hint.Id, hint.Text, hint.Cost, AlreadyRevealed: inserted == 0);
    }

    public async Task<LearnerMemory> GetMemoryAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await ReadMemoryAsync(connection, userId, cancellationToken);
    }

    public async Task<bool> TryUseTutorAsync(Guid userId, DateOnly day, int dailyLimit, CancellationToken cancellationToken = default)
    {
        if (dailyLimit <= 0)
        {
            return false;
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var counted = await connection.ExecuteScalarAsync<int?>(new CommandDefinition("""
            INSERT INTO tutor_usage (user_id, day, questions) VALUES (@userId, @day, 1)
            ON CONFLICT (user_id, day) DO UPDATE SET questions = tutor_usage.questions + 1 WHERE tutor_usage.questions < @dailyLimit
            RETURNING questions
            """, new { userId, day = day.ToDateTime(TimeOnly.MinValue), dailyLimit }, cancellationToken: cancellationToken));
        return counted is not null;
    }

    private static async Task<LearnerMemory> ReadMemoryAsync(NpgsqlConnection connection, Guid userId, CancellationToken cancellationToken)
    {
        var json = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT summary::text FROM learner_memory WHERE user_id = @userId", new { userId }, cancellationToken: cancellationToken));
        return json is null ? LearnerMemory.Empty : JsonSerializer.Deserialize<LearnerMemory>(json, DbJson.Options)!;
    }

    /// <summary>Rebuilds the learner's memory from their sessions, submissions, completions and hints.</summary>
    private async Task RefreshMemoryAsync(NpgsqlConnection connection, Guid userId, CancellationToken cancellationToken)
    {
        var args = new { userId };
        var done = await connection.QueryAsync<(Guid LabId, long Sessions, string? Outcome)>(new CommandDefinition("""
            SELECT lab_id, count(*), (array_agg(outcome ORDER BY ended_at DESC))[1] FROM learning_sessions
            WHERE user_id = @userId AND ended_at IS NOT NULL GROUP BY lab_id ORDER BY max(ended_at) DESC
            """, args, cancellationToken: cancellationToken));
        var completions = (await connection.QueryAsync<(Guid LabId, string ExerciseId, int Points)>(new CommandDefinition(
            "SELECT lab_id, exercise_id, points FROM exercise_completions WHERE user_id = @userId ORDER BY completed_at DESC", args, cancellationToken: cancellationToken))).ToList();
        var hints = (await connection.QueryAsync<(Guid LabId, string ExerciseId)>(new CommandDefinition(
            "SELECT lab_id, exercise_id FROM hint_reveals WHERE user_id = @userId", args, cancellationToken: cancellationToken))).ToList();
        var wrong = await connection.QueryAsync<(Guid LabId, string ExerciseId, long Count)>(new CommandDefinition(
            "SELECT lab_id, exercise_id, count(*) FROM exercise_submissions WHERE user_id = @userId AND NOT correct GROUP BY 1, 2", args, cancellationToken: cancellationToken));

        // Names and exercise titles of the labs this learner touched only.
        Guid[] touched = [.. done.Select(d => d.LabId).Concat(completions.Select(c => c.LabId)).Concat(hints.Select(h => h.LabId)).Concat(wrong.Select(w => w.LabId)).Distinct()];
        var labs = (await connection.QueryAsync<(Guid Id, string Name, string Exercises)>(new CommandDefinition(
            "SELECT id, name, exercises::text FROM labs WHERE id = ANY(@touched)", new { touched }, cancellationToken: cancellationToken)))
            .ToDictionary(l => l.Id, l => (l.Name, Exercises: JsonSerializer.Deserialize<List<Exercise>>(l.Exercises, DbJson.Options) ?? []));
        string Title(Guid lab, string exercise) =>
            labs.TryGetValue(lab, out var l) ? $"{l.Name}: {l.Exercises.FirstOrDefault(e => e.Id == exercise)?.Title ?? exercise}" : exercise;

        var completed = completions.Select(c => (c.LabId, c.ExerciseId)).ToHashSet();
        var hinted = hints.GroupBy(h => (h.LabId, h.ExerciseId)).ToDictionary(g => g.Key, g => g.Count());
        var memory = new LearnerMemory(
            LabsDone: [.. done.Take(MemoryItems).Select(d => $"{(labs.TryGetValue(d.LabId, out var l) ? l.Name : d.LabId.ToString())} ({d.Sessions} session(s), last {d.Outcome}, " +
                $"{completed.Count(c => c.LabId == d.LabId)} exercise(s) solved)")],
            Strengths: [.. completions.Where(c => !hinted.ContainsKey((c.LabId, c.ExerciseId))).Take(MemoryItems).Select(c => Title(c.LabId, c.ExerciseId) + " (no hints)")],
            StuckOn: [.. wrong.Where(w => !completed.Contains((w.LabId, w.ExerciseId)) && w.Count >= 2)
                .Select(w => $"{Title(w.LabId, w.ExerciseId)} ({w.Count} wrong answers)")
                .Concat(hinted.Keys.Where(k => !completed.Contains(k) && wrong.All(w => (w.LabId, w.ExerciseId) != k))
                    .Select(k => $"{Title(k.LabId, k.ExerciseId)} (needed {hinted[k]} hint(s), not solved yet)"))
                .Take(MemoryItems)],
            HintsUsed: hints.Count,
            TotalPoints: completions.Sum(c => c.Points),
            UpdatedAt: time.GetUtcNow());
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO learner_memory (user_id, summary, updated_at) VALUES (@userId, @summary::jsonb, @at)
            ON CONFLICT (user_id) DO UPDATE SET summary = excluded.summary, updated_at = excluded.updated_at
            """, new { userId, summary = JsonSerializer.Serialize(memory, DbJson.Options), at = memory.UpdatedAt!.Value.UtcDateTime }, cancellationToken: cancellationToken));
    }

    private sealed record SessionRow(Guid InstanceId, DateTime? StartedAt, DateTime? EndedAt, long DurationSeconds, decimal Cost, string? Outcome)
    {
        public LearningSession ToSession() => new(InstanceId, DbTime.Utc(StartedAt), DbTime.Utc(EndedAt), DurationSeconds, Cost, Outcome);
    }

    private sealed record LabSummaryRow(Guid LabId, string LabName, int Sessions, long TotalSeconds, decimal TotalCost, string? LastOutcome, long ExercisesCompleted, long Points);
}
