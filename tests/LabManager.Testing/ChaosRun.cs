using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using LabManager.Core.Instances;
using LabManager.VultrEmulator;

namespace LabManager.Testing;

/// <summary>The size of a chaos run and the faults it injects.</summary>
public sealed record ChaosOptions
{
    public int Labs { get; init; } = 6;
    public int Kills { get; init; } = 2;

    /// <summary>How long learners keep starting and stopping labs and the Server keeps being killed.</summary>
    public TimeSpan Storm { get; init; } = TimeSpan.FromSeconds(30);

    public int Seed { get; init; } = Environment.TickCount;

    /// <summary>
    /// The faults of the storm. Besides these, the emulator behaves as Vultr does throughout: a locked VM (the first second of each
    /// boot here) cannot be deleted, deleted VMs stay listed for a moment, user_data runs once.
    /// </summary>
    public FaultSettings Faults { get; init; } = new()
    {
        ErrorRate = 0.1,
        RateLimitPerSecond = 12,
        LatencyMs = 25,
        LoseCreateAnswerRate = 0.3,
        StuckRate = 0.15,
        Filters = "ignore",
    };
}

/// <summary>
/// What a chaos run did and found. <see cref="Problems"/> lists every inconsistency; a good run has none. <see cref="Errors"/> lists
/// every instance that ended in error, with its reason; only a VM that never booted may end a lab so.
/// </summary>
public sealed record ChaosResult(
    int Labs,
    int Kills,
    int Seed,
    IReadOnlyDictionary<string, int> FaultsInjected,
    int VmsCreated,
    int VmsLeaked,
    int InstancesInconsistent,
    int ForeignVms,
    int ForeignVmsTouched,
    int StuckVms,
    IReadOnlyDictionary<string, int> EndStates,
    IReadOnlyList<string> Errors,
    JsonNode? Reconciliation,
    TimeSpan Elapsed,
    IReadOnlyList<string> Problems)
{
    public string Summary() =>
        $"labs {Labs}, kills {Kills}, seed {Seed}, faults injected {string.Join(", ", FaultsInjected.Select(kv => $"{kv.Key} {kv.Value}"))}; " +
        $"VMs created {VmsCreated}, VMs leaked {VmsLeaked}, instances inconsistent {InstancesInconsistent}; " +
        $"foreign VMs {ForeignVms}, touched {ForeignVmsTouched}; stuck VMs {StuckVms}, labs in error {Errors.Count}; " +
        $"end states {string.Join(", ", EndStates.Select(kv => $"{kv.Key} {kv.Value}"))}; reconciliation {Reconciliation?.ToJsonString()}; {Elapsed.TotalSeconds:F0} s" +
        string.Concat(Errors.Select(e => "\n  error: " + e));
}

/// <summary>
/// Learners start labs concurrently and stop some of them while the emulator injects 5xx, 429, latency, lost create answers
/// and stuck VMs, answers every VM whatever the list filters say, refuses to delete locked VMs, and the Server (durable mode,
/// separate process) is killed with SIGKILL and restarted at random moments; the account also holds VMs that are not
/// LabManager's. Then the faults stop, the labs settle, one reconciliation runs, and the emulator is checked against PostgreSQL:
/// every instance ended or running as its learner left it, every VM belongs to a running instance, no label ever had two VMs,
/// only labs whose VM never booted ended in error, and no foreign VM was touched. Last, every running lab is stopped and no VM
/// of ours may remain.
/// </summary>
public sealed class ChaosRun(ChaosOptions options, string storage, string? postgresServer = null, Action<string>? log = null)
{
    private static readonly string[] LabIds =
    [
        "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a01", "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a02",
        "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a03", "6f1c2a9e-0d1b-4c57-9a61-3c2f5d0b7a04",
    ];

    private readonly Action<string> _log = log ?? (_ => { });
    private ServerProcesses _lab = null!;
    private volatile bool _serverUp = true;

    public async Task<ChaosResult> RunAsync()
    {
        var clock = Stopwatch.StartNew();
        var random = new Random(options.Seed);
        _lab = await ServerProcesses.StartAsync(storage,
            // A VM is locked for 2.5 s of its boot, so many stops meet Vultr's refusal to delete it.
            ["Emulator:PendingSeconds=1", "Emulator:BootSeconds=2.5", "Emulator:InstallSeconds=1", "Emulator:CloudInitSeconds=1"],
            [
                .. ServerProcesses.FastTimings,
                $"Api:MaxGlobalInstances={options.Labs + 10}", "Api:MaxStartsPerWindow=1000", "Reconciliation:Interval=00:00:00",
                "LabSessions:OrphanGracePeriod=00:00:05", "LabSessions:Timings:ProvisioningDeadline=00:00:20", "LabSessions:Timings:LabReadyDeadline=00:00:20",
                // What each session did is in the Server's log (its tail is printed when the run fails).
                "Logging:LogLevel:LabManager=Information",
            ],
            postgresServer);
        try
        {
            var foreign = await ForeignVmsAsync();
            await _lab.Emulator.SetFaultsAsync(options.Faults);
            var learners = Enumerable.Range(0, options.Labs).Select(i => new Learner(
                Guid.NewGuid(), LabIds[i % LabIds.Length],
                StartAfter: options.Storm * random.NextDouble() / 3,
                StopAfter: random.NextDouble() < 0.6 ? StopAfter(random) : null)).ToList();
            var kills = Enumerable.Range(0, options.Kills).Select(_ => options.Storm * random.NextDouble()).Order().ToList();
            var killer = KillAtAsync(kills, random);
            await Task.WhenAll(learners.Select(PlayAsync).Append(killer));
            _log($"storm over after {clock.Elapsed.TotalSeconds:F0} s");

            // The transient faults stop; the filters stay as loose as they were, so reconciliation meets the foreign VMs too.
            await _lab.Emulator.SetFaultsAsync(new FaultSettings { Filters = options.Faults.Filters });
            // What has not settled by then is reconciliation's to repair (e.g. a start whose session was never scheduled).
            await SettleAsync(TimeSpan.FromSeconds(60 + (options.Labs * 2)));
            var (reconcileStatus, reconciled) = await _lab.SendAsync(HttpMethod.Post, "/api/admin/cleanup", _lab.Token(Guid.NewGuid(), admin: true));
            if (reconcileStatus != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"POST /api/admin/cleanup answered {(int)reconcileStatus}: {reconciled.ToJsonString()}");
            }

            // What reconciliation raised (stops again, expiries) takes effect in the workflows.
            await SettleAsync(TimeSpan.FromSeconds(60));
            var inspection = await _lab.Emulator.InspectAsync();
            var rows = await RowsAsync();
            var problems = new List<string>();
            var (leaked, inconsistent) = Check(learners, rows, inspection, foreign, problems);
            var endStates = rows.GroupBy(r => r.Status).ToDictionary(g => g.Key, g => g.Count());
            var stuck = inspection.Vms.Where(v => v.Stuck).Select(v => v.Label).Concat(inspection.Deleted.Where(d => d.Stuck).Select(d => d.Label)).ToHashSet();
            var errors = new List<string>();
            foreach (var row in rows.Where(r => r.Status == "error"))
            {
                var neverBooted = stuck.Any(label => LabInstance.TryParseVmLabel(label, out var owner, out _) && owner == row.Id);
                errors.Add($"instance {row.Id}: {row.Error}{(neverBooted ? " (its VM never booted)" : "")}");
                if (!neverBooted)
                {
                    Problem(problems, row.Id, $"ended in error though its VM booted: {row.Error}");
                    inconsistent++;
                }
            }

            ForeignTouched(foreign, inspection, problems);

            // Every lab still running is stopped by its learner: nothing may be left behind.
            foreach (var learner in learners.Where(l => l.InstanceId is { } id && rows.Single(r => r.Id == id).Status == "running"))
            {
                await CallAsync(learner, HttpMethod.Post, $"/api/labs/instances/{learner.InstanceId}/stop");
            }

            await ProcessHost.WaitUntilAsync(
                async () => await _lab.Db.ScalarAsync<long>($"SELECT count(*) FROM lab_instances WHERE status IN {ActiveStatuses}") == 0,
                TimeSpan.FromSeconds(90), () => "labs did not end after their learners stopped them: " +
                    string.Join(", ", RowsAsync().GetAwaiter().GetResult().Where(r => r.Status is "starting" or "provisioning" or "running" or "stopping")));
            var left = (await _lab.Emulator.InspectAsync()).Vms.Where(v => !foreign.Contains(v.Id)).ToList();
            leaked += left.Count;
            problems.AddRange(left.Select(v => $"VM {v.Id} ({v.Label}) left after every lab was stopped"));
            var touched = ForeignTouched(foreign, await _lab.Emulator.InspectAsync(), problems);

            var faults = inspection.Requests.Where(kv => kv.Key is "answered_5xx" or "answered_429" or "create_answer_lost" or "vm_stuck" or "refused_locked")
                .ToDictionary(kv => kv.Key, kv => kv.Value);
            faults["latency_ms"] = options.Faults.LatencyMs;
            foreach (var id in foreign)
            {
                await _lab.Emulator.RemoveAsync(id);
            }

            var ours = inspection.Creates.Where(kv => LabInstance.TryParseVmLabel(kv.Key, out var owner, out _) && rows.Any(r => r.Id == owner)).Sum(kv => kv.Value);
            return new ChaosResult(options.Labs, options.Kills, options.Seed, faults, ours, leaked, inconsistent, foreign.Count, touched, stuck.Count,
                endStates, errors, reconciled["data"], clock.Elapsed, problems);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"Chaos run (seed {options.Seed}) failed: {ex.Message}\n{_lab.Tail()}", ex);
        }
        finally
        {
            await _lab.DisposeAsync();
        }
    }

    /// <summary>When a learner who stops does: a quarter of them at once (their VM still booting, locked), the rest later in the storm.</summary>
    private TimeSpan StopAfter(Random random) => random.NextDouble() < 0.25
        ? TimeSpan.FromSeconds(1 + (random.NextDouble() * 3))
        : options.Storm * (0.1 + (random.NextDouble() / 2));

    /// <summary>What the learner does, and what became of it.</summary>
    private sealed record Learner(Guid UserId, string LabId, TimeSpan StartAfter, TimeSpan? StopAfter)
    {
        public Guid? InstanceId { get; set; }
        public bool Stopped { get; set; }

        /// <summary>The instance's status in the stop's answer, and when the stop was answered.</summary>
        public string? StoppedWhile { get; set; }
    }

    private async Task PlayAsync(Learner learner)
    {
        await Task.Delay(learner.StartAfter);
        var (status, body) = await CallAsync(learner, HttpMethod.Post, $"/api/labs/{learner.LabId}/start", """{"timeoutOverride": 1800000}""");
        if (status is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            throw new InvalidOperationException($"start answered {(int)status}: {body.ToJsonString()}");
        }

        learner.InstanceId = Guid.Parse(body["data"]!["id"]!.GetValue<string>());
        if (learner.StopAfter is { } after)
        {
            await Task.Delay(after);
            var (stopped, answer) = await CallAsync(learner, HttpMethod.Post, $"/api/labs/instances/{learner.InstanceId}/stop");
            // 409: the lab already ended (a stuck VM ends it in error); anything else is a fault of ours.
            if (stopped is HttpStatusCode.Accepted or HttpStatusCode.OK)
            {
                learner.Stopped = true;
                learner.StoppedWhile = $"{answer["data"]?["status"]} at {DateTimeOffset.UtcNow:HH:mm:ss.fff}";
            }
            else if (stopped != HttpStatusCode.Conflict)
            {
                throw new InvalidOperationException($"stop answered {(int)stopped}: {answer.ToJsonString()}");
            }
        }
    }

    /// <summary>Calls the API as the learner, again and again while the Server is down or restarting.</summary>
    private async Task<(HttpStatusCode, JsonObject)> CallAsync(Learner learner, HttpMethod method, string path, string? body = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var answer = await _lab.SendAsync(method, path, _lab.Token(learner.UserId), body);
                if ((int)answer.Status < 500)
                {
                    return answer;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
            }

            if (deadline.Elapsed > TimeSpan.FromMinutes(3))
            {
                throw new TimeoutException($"{method} {path} got no answer for 3 minutes (Server up: {_serverUp})");
            }

            await Task.Delay(250);
        }
    }

    private async Task KillAtAsync(IReadOnlyList<TimeSpan> moments, Random random)
    {
        var clock = Stopwatch.StartNew();
        foreach (var moment in moments)
        {
            if (moment > clock.Elapsed)
            {
                await Task.Delay(moment - clock.Elapsed);
            }

            _serverUp = false;
            await _lab.KillServerAsync();
            _log($"SIGKILL at {clock.Elapsed.TotalSeconds:F1} s ({DateTimeOffset.UtcNow:HH:mm:ss.fff})");
            await Task.Delay(TimeSpan.FromSeconds(random.NextDouble() * 2));
            await _lab.StartServerAsync();
            _serverUp = true;
            _log($"restarted, healthy at {clock.Elapsed.TotalSeconds:F1} s ({DateTimeOffset.UtcNow:HH:mm:ss.fff})");
        }
    }

    /// <summary>VMs a real account holds beside LabManager's (<see cref="ForeignVms.TypicalAsync"/>).</summary>
    private Task<IReadOnlyList<string>> ForeignVmsAsync() =>
        ForeignVms.TypicalAsync(new Uri(_lab.EmulatorUrl + "/v2/"), "local-emulator-key", Guid.NewGuid());

    /// <summary>How many foreign VMs were deleted or rebooted; each is a problem.</summary>
    private static int ForeignTouched(IReadOnlyList<string> foreign, Inspection inspection, List<string> problems)
    {
        var touched = foreign.Where(id => inspection.Vms.SingleOrDefault(v => v.Id == id) is not { Boot: 1 }).ToList();
        problems.AddRange(touched.Select(id => $"foreign VM {id} was deleted or rebooted"));
        return touched.Count;
    }

    private static void Problem(List<string> problems, Guid id, string what) => problems.Add($"instance {id}: {what}");

    private const string ActiveStatuses = "('starting', 'provisioning', 'running', 'stopping')";

    /// <summary>
    /// Waits until no instance is between states (starting, provisioning, stopping) or still running after a stop was asked for (the
    /// stop's event comes back with the queue message a killed Server had taken, up to a minute later), at most <paramref name="timeout"/>.
    /// </summary>
    private async Task SettleAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout
            && await _lab.Db.ScalarAsync<long>(
                "SELECT count(*) FROM lab_instances WHERE status IN ('starting', 'provisioning', 'stopping') OR (status = 'running' AND stop_requested_at IS NOT NULL)") > 0)
        {
            await Task.Delay(250);
        }

        _log($"settled in {clock.Elapsed.TotalSeconds:F0} s" + (clock.Elapsed >= timeout ? " (timed out)" : ""));
    }

    private sealed record Row(Guid Id, string Status, string? VmId, string? Error);

    private async Task<List<Row>> RowsAsync()
    {
        var rows = new List<Row>();
        await using var connection = new Npgsql.NpgsqlConnection(_lab.Db.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, status, cloud_instance_id, error_message FROM lab_instances";
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new Row(reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return rows;
    }

    /// <summary>The emulator against PostgreSQL and against what the learners did; returns (VMs leaked, instances inconsistent).</summary>
    private static (int Leaked, int Inconsistent) Check(List<Learner> learners, List<Row> rows, Inspection inspection, IReadOnlyList<string> foreign, List<string> problems)
    {
        var bad = new HashSet<Guid>();
        void Problem(Guid id, string what)
        {
            bad.Add(id);
            ChaosRun.Problem(problems, id, what);
        }

        var byId = rows.ToDictionary(r => r.Id);
        foreach (var learner in learners)
        {
            if (learner.InstanceId is not { } id || !byId.TryGetValue(id, out var row))
            {
                problems.Add($"learner {learner.UserId}: no instance");
                continue;
            }

            var status = LabInstanceTransitions.ParseWire(row.Status);
            if (!status.IsTerminal() && status != LabInstanceStatus.Running)
            {
                Problem(id, $"still {row.Status}");
            }
            else if (learner.Stopped && status == LabInstanceStatus.Running)
            {
                Problem(id, $"running although its learner stopped it (while {learner.StoppedWhile})");
            }
            else if (status == LabInstanceStatus.Error && string.IsNullOrEmpty(row.Error))
            {
                Problem(id, "in error without a message");
            }

            var label = LabInstance.VmLabel(id);
            if (inspection.Creates.GetValueOrDefault(label) > 1)
            {
                Problem(id, $"had {inspection.Creates[label]} VMs");
            }

            var vm = inspection.Vms.FirstOrDefault(v => v.Label == label);
            if (status == LabInstanceStatus.Running && (vm is null || vm.Id != row.VmId))
            {
                Problem(id, $"running on VM {row.VmId}, but the cloud has {vm?.Id ?? "none"}");
            }
        }

        var leaked = 0;
        foreach (var vm in inspection.Vms.Where(v => !foreign.Contains(v.Id)))
        {
            var owner = rows.FirstOrDefault(r => LabInstance.VmLabel(r.Id) == vm.Label);
            if (owner is null || owner.Status != "running" || owner.VmId != vm.Id)
            {
                leaked++;
                problems.Add($"VM {vm.Id} ({vm.Label}) belongs to no running instance ({owner?.Status ?? "no instance"})");
            }
        }

        foreach (var row in rows.Where(r => learners.All(l => l.InstanceId != r.Id)))
        {
            Problem(row.Id, "no learner started it");
        }

        return (leaked, bad.Count);
    }
}
