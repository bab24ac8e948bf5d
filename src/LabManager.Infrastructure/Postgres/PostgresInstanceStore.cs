using System.Text.Json;
using Dapper;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using Npgsql;

namespace LabManager.Infrastructure.Postgres;

/// <summary>
/// Lab instances in the <c>lab_instances</c> table; starts are admitted under quotas in one transaction, and claim a lab's pooled
/// instance in it when one is ready.
/// </summary>
public sealed class PostgresInstanceStore(NpgsqlDataSource db) : IInstanceStore, IPoolStore
{
    /// <summary>The active statuses as an SQL list, from Core's one definition.</summary>
    private static readonly string Active = SqlList(LabInstanceTransitions.Active);

    /// <summary>An active instance a new start returns instead of making another: any but one already stopping.</summary>
    private static readonly string Reusable = SqlList(LabInstanceTransitions.Active.Where(s => s != LabInstanceStatus.Stopping));

    private static string SqlList(IEnumerable<LabInstanceStatus> statuses) => "(" + string.Join(", ", statuses.Select(s => $"'{s.ToWire()}'")) + ")";

    private const string InstanceColumns = """
        id, user_id, lab_id, lab_version, status, cloud_instance_id, public_ip, internal_ip, access_url, ports, created_at, started_at,
               expires_at, ended_at, error_message, restart_count, vm_status, vm_checked_at, stop_requested_at, vms::text AS vms,
               firewall_group_id, learner_ip, last_activity_at
        """;

    private const string SelectInstances = "SELECT " + InstanceColumns + " FROM lab_instances";

    // Serializes starts across every server: quota counts and the insert see one consistent state.
    private const long StartLockKey = 7_270_001;
    private const int SessionRequestLockKey = 7_270_003;

    public async Task<LabInstance?> GetAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<InstanceRow>(new CommandDefinition(SelectInstances + " WHERE id = @instanceId", new { instanceId }, cancellationToken: cancellationToken));
        return row?.ToInstance();
    }

    public async Task AddAsync(LabInstance instance, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await InsertAsync(connection, null, instance, cancellationToken);
    }

    public async Task UpdateAsync(LabInstance instance, CancellationToken cancellationToken = default)
    {
        const string sql = """
            UPDATE lab_instances SET status = @Status, cloud_instance_id = @CloudInstanceId, public_ip = @PublicIp, internal_ip = @InternalIp,
                access_url = @AccessUrl, ports = @Ports, started_at = @StartedAt, expires_at = @ExpiresAt, ended_at = @EndedAt,
                error_message = @ErrorMessage, restart_count = @RestartCount, vms = @Vms::jsonb, firewall_group_id = @FirewallGroupId,
                updated_at = now()
            WHERE id = @Id
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var updated = await connection.ExecuteAsync(new CommandDefinition(sql, InstanceRow.From(instance), cancellationToken: cancellationToken));
        if (updated != 1)
        {
            throw new InvalidOperationException($"Instance {instance.Id} does not exist");
        }
    }

    public async Task SetVmStatusAsync(Guid instanceId, string vmStatus, DateTimeOffset checkedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE lab_instances SET vm_status = @vmStatus, vm_checked_at = @checkedAt WHERE id = @instanceId",
            new { instanceId, vmStatus, checkedAt = checkedAt.UtcDateTime }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<(Guid InstanceId, string VmId)>> ListBootingAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(Guid, string)>(new CommandDefinition(
            "SELECT id, cloud_instance_id FROM lab_instances WHERE status = 'provisioning' AND cloud_instance_id IS NOT NULL", cancellationToken: cancellationToken));
        return [.. rows];
    }

    public async Task<bool> FirstCloudRequestAsync(Guid instanceId, string request, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO cloud_requests (instance_id, request) SELECT @instanceId, @request
            WHERE EXISTS (SELECT 1 FROM lab_instances WHERE id = @instanceId) ON CONFLICT DO NOTHING
            """, new { instanceId, request }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task<bool> TakeWatchTurnAsync(long slot, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE vm_watch_turns SET slot = @slot WHERE id = 1 AND slot < @slot", new { slot }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task RequestStopAsync(Guid instanceId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE lab_instances SET stop_requested_at = coalesce(stop_requested_at, @at) WHERE id = @instanceId",
            new { instanceId, at = at.UtcDateTime }, cancellationToken: cancellationToken));
    }

    public async Task RecordActivityAsync(IReadOnlyDictionary<Guid, DateTimeOffset> lastSeen, CancellationToken cancellationToken = default)
    {
        if (lastSeen.Count == 0)
        {
            return;
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE lab_instances i SET last_activity_at = greatest(i.last_activity_at, s.at)
            FROM unnest(@ids, @ats) AS s(id, at) WHERE i.id = s.id
            """, new { ids = lastSeen.Keys.ToArray(), ats = lastSeen.Values.Select(v => v.UtcDateTime).ToArray() }, cancellationToken: cancellationToken));
    }

    public async Task SetLearnerIpAsync(Guid instanceId, string learnerIp, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE lab_instances SET learner_ip = @learnerIp WHERE id = @instanceId", new { instanceId, learnerIp }, cancellationToken: cancellationToken));
    }

    public async Task AddAccessTicketAsync(string hash, Guid instanceId, Guid userId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            DELETE FROM access_tickets WHERE expires_at < now() - interval '1 hour';
            INSERT INTO access_tickets (hash, instance_id, user_id, expires_at) VALUES (@hash, @instanceId, @userId, @expiresAt);
            """, new { hash, instanceId, userId, expiresAt = expiresAt.UtcDateTime }, cancellationToken: cancellationToken));
    }

    public async Task<(Guid InstanceId, Guid UserId)?> RedeemAccessTicketAsync(string hash, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<(Guid, Guid)?>(new CommandDefinition(
            "DELETE FROM access_tickets WHERE hash = @hash AND expires_at > @now RETURNING instance_id, user_id",
            new { hash, now = now.UtcDateTime }, cancellationToken: cancellationToken));
        return row;
    }

    public async Task<IReadOnlyList<LabInstance>> ListByUserAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<InstanceRow>(new CommandDefinition(
            SelectInstances + " WHERE user_id = @userId ORDER BY created_at DESC LIMIT 200", new { userId }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => r.ToInstance())];
    }

    public async Task<IReadOnlyList<LabInstance>> ListAsync(bool activeOnly, int limit, CancellationToken cancellationToken = default)
    {
        var where = activeOnly ? $" WHERE status IN {Active}" : "";
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<InstanceRow>(new CommandDefinition(
            SelectInstances + where + " ORDER BY created_at DESC LIMIT @limit", new { limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => r.ToInstance())];
    }

    public async Task<IReadOnlyList<int>> ActiveCountsAsync(DateTimeOffset from, TimeSpan step, int points, CancellationToken cancellationToken = default)
    {
        const string sql = """
            SELECT (SELECT count(*) FROM lab_instances i WHERE i.created_at <= t AND (i.ended_at IS NULL OR i.ended_at > t))::int
            FROM generate_series(0, @points - 1) AS n, LATERAL (SELECT @from + n * @step AS t) AS moment
            ORDER BY n
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var counts = await connection.QueryAsync<int>(new CommandDefinition(
            sql, new { from = from.UtcDateTime, step, points }, cancellationToken: cancellationToken));
        return [.. counts];
    }

    public async Task<IReadOnlyDictionary<Guid, string>> UserNamesAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default)
    {
        const string sql = """
            SELECT id, CASE WHEN username IS NOT NULL AND email IS NOT NULL THEN username || ' <' || email || '>' ELSE coalesce(username, email) END
            FROM users WHERE id = ANY(@ids) AND coalesce(username, email) IS NOT NULL
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(Guid Id, string Name)>(new CommandDefinition(sql, new { ids = userIds.ToArray() }, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Id, r => r.Name);
    }

    public async Task<UserStats> StatsAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        var sql = $"""
            SELECT count(*)::int, (count(*) FILTER (WHERE status IN {Active}))::int, (count(*) FILTER (WHERE status = 'stopped'))::int,
                   (count(*) FILTER (WHERE status = 'expired'))::int, (count(*) FILTER (WHERE status = 'error'))::int
            FROM lab_instances WHERE user_id = @userId
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var (total, active, stopped, expired, error) = await connection.QuerySingleAsync<(int, int, int, int, int)>(
            new CommandDefinition(sql, new { userId }, cancellationToken: cancellationToken));
        return new UserStats(total, active, stopped, expired, error);
    }

    public async Task<StartOutcome> TryStartAsync(StartRequest request, CancellationToken cancellationToken = default)
    {
        var (user, lab, now, quotas) = (request.User, request.Lab, request.Now.ToUniversalTime(), request.Quotas);
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@StartLockKey)", new { StartLockKey }, tx, cancellationToken: cancellationToken));

        const string upsertUser = """
            INSERT INTO users (id, email, username, role) VALUES (@Id, @Email, @Name, @Role)
            ON CONFLICT (id) DO UPDATE SET email = coalesce(excluded.email, users.email), username = coalesce(excluded.username, users.username),
                role = excluded.role, updated_at = now()
            """;
        await connection.ExecuteAsync(new CommandDefinition(upsertUser, new { user.Id, user.Email, user.Name, Role = user.IsAdmin ? "admin" : "user" }, tx, cancellationToken: cancellationToken));

        var existing = await connection.QueryFirstOrDefaultAsync<InstanceRow>(new CommandDefinition(
            SelectInstances + $" WHERE user_id = @userId AND lab_id = @labId AND status IN {Reusable} ORDER BY created_at DESC LIMIT 1",
            new { userId = user.Id, labId = lab.Id }, tx, cancellationToken: cancellationToken));
        if (existing is not null)
        {
            await tx.CommitAsync(cancellationToken);
            return new StartOutcome.Existing(existing.ToInstance());
        }

        var recent = await connection.QuerySingleAsync<(long Count, DateTime? Oldest)>(new CommandDefinition(
            "SELECT count(*), min(coalesce(claimed_at, created_at)) FROM lab_instances WHERE user_id = @userId AND coalesce(claimed_at, created_at) > @since",
            new { userId = user.Id, since = now - quotas.StartWindow }, tx, cancellationToken: cancellationToken));
        if (recent.Count >= quotas.MaxStartsPerWindow)
        {
            var retryAfter = DbTime.Utc(recent.Oldest!.Value) + quotas.StartWindow - now;
            return new StartOutcome.RateLimited(retryAfter > TimeSpan.Zero ? retryAfter : TimeSpan.FromSeconds(1));
        }

        var counts = await connection.QuerySingleAsync<(long User, long Lab, long Global)>(new CommandDefinition(
            $"""
            SELECT count(*) FILTER (WHERE user_id = @userId), count(*) FILTER (WHERE user_id = @userId AND lab_id = @labId), count(*)
            FROM lab_instances WHERE status IN {Active}
            """,
            new { userId = user.Id, labId = lab.Id }, tx, cancellationToken: cancellationToken));
        StartOutcome? refused = counts switch
        {
            _ when counts.User >= quotas.MaxActivePerUser => new StartOutcome.QuotaExceeded("user", quotas.MaxActivePerUser),
            _ when counts.Lab >= lab.MaxInstancesPerUser => new StartOutcome.QuotaExceeded("lab", lab.MaxInstancesPerUser),
            _ => null,
        };
        if (refused is not null)
        {
            return refused;
        }

        // A ready VM of the lab's pool becomes the learner's; it already counts against the global quota, so that is not asked again.
        var claimed = await connection.QuerySingleOrDefaultAsync<InstanceRow>(new CommandDefinition(
            $"""
            UPDATE lab_instances SET user_id = @userId, claimed_at = @now, updated_at = now()
            WHERE id = (SELECT id FROM lab_instances WHERE lab_id = @labId AND lab_version = @version AND user_id = @owner AND status = 'pooled'
                        AND stop_requested_at IS NULL ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING {InstanceColumns}
            """,
            new { userId = user.Id, now, labId = lab.Id, version = lab.Version, owner = LabPool.Owner }, tx, cancellationToken: cancellationToken));
        if (claimed is not null)
        {
            await tx.CommitAsync(cancellationToken);
            return new StartOutcome.Claimed(claimed.ToInstance());
        }

        if (counts.Global >= quotas.MaxActiveGlobal)
        {
            return new StartOutcome.QuotaExceeded("global", quotas.MaxActiveGlobal);
        }

        var instance = new LabInstance { Id = request.InstanceId, UserId = user.Id, LabId = lab.Id, LabVersion = lab.Version, CreatedAt = now, Ports = lab.ContainerConfig.HostPorts() };
        await InsertAsync(connection, tx, instance, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return new StartOutcome.Created(instance);
    }

    public async Task<SessionRequestOutcome> TrySessionRequestAsync(SessionRequest request, CancellationToken cancellationToken = default)
    {
        var now = request.Now.ToUniversalTime();
        var kind = request.Kind.ToString().ToLowerInvariant();
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // The learner's lock makes the count and the insert one step, whichever of their instances is asked; the row lock makes
        // two rebuilds of one instance take turns, so the second sees the first's provisioning.
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@SessionRequestLockKey, hashtext(@UserId::text))",
            new { SessionRequestLockKey, request.UserId }, tx, cancellationToken: cancellationToken));
        var row = await connection.QuerySingleOrDefaultAsync<InstanceRow>(new CommandDefinition(
            SelectInstances + " WHERE id = @InstanceId FOR UPDATE", new { request.InstanceId }, tx, cancellationToken: cancellationToken));
        if (row is null)
        {
            throw new InvalidOperationException($"Instance {request.InstanceId} does not exist");
        }

        var instance = row.ToInstance();
        if (instance.Status != LabInstanceStatus.Running)
        {
            return new SessionRequestOutcome.NotRunning(instance.Status);
        }

        var recent = await connection.QuerySingleAsync<(long Count, DateTime? Oldest)>(new CommandDefinition(
            "SELECT count(*), min(at) FROM session_requests WHERE user_id = @UserId AND kind = @kind AND at > @since",
            new { request.UserId, kind, since = now - request.Window }, tx, cancellationToken: cancellationToken));
        if (recent.Count >= request.Max)
        {
            var retryAfter = DbTime.Utc(recent.Oldest!.Value) + request.Window - now;
            return new SessionRequestOutcome.RateLimited(retryAfter > TimeSpan.Zero ? retryAfter : TimeSpan.FromSeconds(1));
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO session_requests (user_id, instance_id, kind, at) VALUES (@UserId, @InstanceId, @kind, @now)",
            new { request.UserId, request.InstanceId, kind, now }, tx, cancellationToken: cancellationToken));
        if (request.Kind == SessionRequestKind.Rebuild)
        {
            instance = instance.MoveTo(LabInstanceStatus.Provisioning, now);
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE lab_instances SET status = 'provisioning', updated_at = now() WHERE id = @InstanceId", new { request.InstanceId }, tx, cancellationToken: cancellationToken));
        }

        await tx.CommitAsync(cancellationToken);
        return new SessionRequestOutcome.Accepted(instance);
    }

    public async Task<bool> SetPoolAsync(Guid labId, LabPool? pool, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("UPDATE labs SET pool = @pool::jsonb, updated_at = now() WHERE id = @labId",
            new { labId, pool = pool is null ? null : JsonSerializer.Serialize(pool, DbJson.Options) }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task<bool> TryAddAsync(LabInstance instance, int maxGlobal, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // Under the start lock: the pool and the learners' starts share one global quota.
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@StartLockKey)", new { StartLockKey }, tx, cancellationToken: cancellationToken));
        var active = await connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT count(*) FROM lab_instances WHERE status IN {Active}",
            transaction: tx, cancellationToken: cancellationToken));
        if (active >= maxGlobal)
        {
            return false;
        }

        await InsertAsync(connection, tx, instance, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> RetireAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        const string sql = """
            UPDATE lab_instances SET status = CASE WHEN status = 'pooled' THEN 'stopping' ELSE status END, stop_requested_at = now(), updated_at = now()
            WHERE id = @instanceId AND user_id = @owner AND status IN ('starting', 'provisioning', 'pooled')
            """;
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { instanceId, owner = LabPool.Owner }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task<PoolCounts> CountsAsync(Guid labId, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        const string sql = """
            SELECT id, status, lab_version <> (SELECT version FROM labs WHERE id = @labId) AS stale FROM lab_instances
            WHERE lab_id = @labId AND user_id = @owner AND status IN ('starting', 'provisioning', 'pooled') AND stop_requested_at IS NULL ORDER BY created_at;
            SELECT count(*) FILTER (WHERE claimed_at > @since),
                   count(*) FILTER (WHERE claimed_at IS NULL AND user_id <> @owner AND created_at > @since),
                   count(*) FILTER (WHERE user_id = @owner AND status = 'error' AND coalesce(ended_at, created_at) > @since)
            FROM lab_instances WHERE lab_id = @labId AND (created_at > @since OR claimed_at > @since OR ended_at > @since);
            SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) FROM lab_instances
            WHERE lab_id = @labId AND user_id <> @owner AND claimed_at IS NULL AND started_at IS NOT NULL AND created_at > now() - interval '7 days';
            """;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var results = await connection.QueryMultipleAsync(new CommandDefinition(sql,
            new { labId, owner = LabPool.Owner, since = since.ToUniversalTime() }, cancellationToken: cancellationToken));
        var all = (await results.ReadAsync<(Guid Id, string Status, bool Stale)>()).ToList();
        var pooled = all.Where(p => !p.Stale).ToList();
        var (claimed, cold, failed) = await results.ReadSingleAsync<(long, long, long)>();
        var boot = await results.ReadSingleAsync<double?>();
        return new PoolCounts([.. pooled.Where(p => p.Status == "pooled").Select(p => p.Id)], [.. pooled.Where(p => p.Status != "pooled").Select(p => p.Id)],
            (int)claimed, (int)cold, (int)failed)
        {
            StartingIds = [.. pooled.Where(p => p.Status == "starting").Select(p => p.Id)],
            StaleIds = [.. all.Where(p => p.Stale).Select(p => p.Id)],
            TypicalBoot = boot is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
        };
    }

    private static Task<int> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, LabInstance instance, CancellationToken cancellationToken)
    {
        const string sql = """
            INSERT INTO lab_instances (id, user_id, lab_id, lab_version, status, cloud_instance_id, public_ip, internal_ip, access_url, ports, created_at,
                                       started_at, expires_at, ended_at, error_message, restart_count, vms, firewall_group_id, learner_ip)
            VALUES (@Id, @UserId, @LabId, @LabVersion, @Status, @CloudInstanceId, @PublicIp, @InternalIp, @AccessUrl, @Ports, @CreatedAt,
                    @StartedAt, @ExpiresAt, @EndedAt, @ErrorMessage, @RestartCount, @Vms::jsonb, @FirewallGroupId, @LearnerIp)
            """;
        return connection.ExecuteAsync(new CommandDefinition(sql, InstanceRow.From(instance), tx, cancellationToken: cancellationToken));
    }

    /// <summary>The <c>lab_instances</c> row; timestamps are UTC <see cref="DateTime"/> as Npgsql reads timestamptz.</summary>
    private sealed class InstanceRow
    {
        public Guid Id { get; set; }
        public Guid UserId { get; set; }
        public Guid LabId { get; set; }
        public int LabVersion { get; set; }
        public string Status { get; set; } = "";
        public string? CloudInstanceId { get; set; }
        public string? PublicIp { get; set; }
        public string? InternalIp { get; set; }
        public string? AccessUrl { get; set; }
        public int[] Ports { get; set; } = [];
        public DateTime CreatedAt { get; set; }
        public DateTime? StartedAt { get; set; }
        public DateTime? ExpiresAt { get; set; }
        public DateTime? EndedAt { get; set; }
        public string? ErrorMessage { get; set; }
        public int RestartCount { get; set; }
        public string? VmStatus { get; set; }
        public DateTime? VmCheckedAt { get; set; }
        public DateTime? StopRequestedAt { get; set; }
        public string Vms { get; set; } = "[]";
        public string? FirewallGroupId { get; set; }
        public string? LearnerIp { get; set; }
        public DateTime? LastActivityAt { get; set; }

        public static InstanceRow From(LabInstance i) => new()
        {
            Id = i.Id,
            UserId = i.UserId,
            LabId = i.LabId,
            LabVersion = i.LabVersion,
            Status = i.Status.ToWire(),
            CloudInstanceId = i.CloudInstanceId,
            PublicIp = i.PublicIp,
            InternalIp = i.InternalIp,
            AccessUrl = i.AccessUrl,
            Ports = [.. i.Ports],
            CreatedAt = i.CreatedAt.UtcDateTime,
            StartedAt = i.StartedAt?.UtcDateTime,
            ExpiresAt = i.ExpiresAt?.UtcDateTime,
            EndedAt = i.EndedAt?.UtcDateTime,
            ErrorMessage = i.ErrorMessage,
            RestartCount = i.RestartCount,
            Vms = JsonSerializer.Serialize(i.Vms, DbJson.Options),
            FirewallGroupId = i.FirewallGroupId,
            LearnerIp = i.LearnerIp,
        };

        public LabInstance ToInstance() => new()
        {
            Id = Id,
            UserId = UserId,
            LabId = LabId,
            LabVersion = LabVersion,
            Status = LabInstanceTransitions.ParseWire(Status),
            CloudInstanceId = CloudInstanceId,
            PublicIp = PublicIp,
            InternalIp = InternalIp,
            AccessUrl = AccessUrl,
            Ports = Ports,
            CreatedAt = DbTime.Utc(CreatedAt),
            StartedAt = DbTime.Utc(StartedAt),
            ExpiresAt = DbTime.Utc(ExpiresAt),
            EndedAt = DbTime.Utc(EndedAt),
            ErrorMessage = ErrorMessage,
            RestartCount = RestartCount,
            VmStatus = VmStatus,
            VmCheckedAt = DbTime.Utc(VmCheckedAt),
            StopRequestedAt = DbTime.Utc(StopRequestedAt),
            Vms = JsonSerializer.Deserialize<List<VmUsage>>(Vms, DbJson.Options) ?? [],
            FirewallGroupId = FirewallGroupId,
            LearnerIp = LearnerIp,
            LastActivityAt = DbTime.Utc(LastActivityAt),
        };
    }
}
