using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Core.CloudInit;
using LabManager.Core.Instances;
using LabManager.Testing;
using LabManager.VultrEmulator;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>A Server whose labs' agents report every second, with every log line of Information and above kept.</summary>
public sealed class AgentServer : ServerFixture
{
    public MemoryLoggerProvider Logs { get; } = new();

    protected override IEnumerable<string> Settings =>
    [
        .. base.Settings, "Agent:Interval=00:00:01", "Agent:MinInterval=00:00:00.5", "Agent:ActivityBytes=3000",
        "Logging:LogLevel:Default=Information", "Logging:Console:LogLevel:Default=Warning",
    ];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Services.GetRequiredService<ILoggerFactory>().AddProvider(Logs);
    }
}

public sealed class AgentTests(AgentServer server) : IClassFixture<AgentServer>
{
    private readonly string _admin = server.Token(Guid.NewGuid(), admin: true);

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what, double seconds = 30)
        where T : class
    {
        for (var clock = Stopwatch.StartNew(); ; await Task.Delay(100))
        {
            if (await probe() is { } found)
            {
                return found;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"timed out waiting for {what}");
        }
    }

    private async Task<JsonObject> AdminViewAsync(string id) =>
        (await server.SendAsync(HttpMethod.Get, "/api/admin/instances", _admin)).Body["data"]!.AsArray().Select(i => i!.AsObject())
            .Single(i => i["id"]!.GetValue<string>() == id);

    private async Task<string> VmOfAsync(string id) => (await AdminViewAsync(id))["cloudInstanceId"]!.GetValue<string>();

    private async Task<HubConnection> ConnectAsync(string token, ConcurrentQueue<JsonObject> notifications)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(server.Http.BaseAddress!, "/hubs/labs"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        connection.On<JsonObject>("lab:notification", notifications.Enqueue);
        await connection.StartAsync();
        return connection;
    }

    /// <summary>A running lab whose emulated agent is silenced (and its last heartbeat in), so only the test posts heartbeats for it.</summary>
    private async Task<(string Token, string Id)> StartWithoutItsAgentAsync()
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartRunningAsync(CryptoLab, token);
        await server.Emulator.SilenceAgentAsync(await VmOfAsync(id));
        await Task.Delay(1500);
        return (token, id);
    }

    private static string HeartbeatPath(string id, string? key = null) =>
        $"/api/labs/instances/{id}/heartbeat?key={key ?? PhoneHome.Key(PhoneHomeKey, Guid.Parse(id))}&vm=1";

    private static string Heartbeat(string name, string state = "running", string log = "line") =>
        $$"""{"boot":1,"containers":[{"name":"/{{name}}","state":"{{state}}","exitCode":0,"restarts":0,"health":null}],"stats":[{"name":"{{name}}","cpu":"2.5%","mem":"10MiB / 100MiB","net":"1kB / 2kB"}],"logs":[{"name":"{{name}}","tail":"{{Convert.ToBase64String(Encoding.UTF8.GetBytes(log + "\n"))}}"}],"restarted":[]}""";

    [Fact]
    public async Task Heartbeats_GiveStatsAndLogs_ToTheOwnerAndOperators_NotToAnotherLearner()
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartRunningAsync(DvwaLab, token);

        var stats = await EventuallyAsync(async () =>
        {
            var (status, body, _) = await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/stats", token);
            return status == HttpStatusCode.OK ? body["data"]!.AsObject() : null;
        }, "the first heartbeat");
        var dvwa = Assert.Single(stats["containers"]!.AsArray())!;
        Assert.Equal(("dvwa", "running"), (dvwa["name"]!.GetValue<string>(), dvwa["state"]!.GetValue<string>()));
        Assert.InRange(dvwa["cpuPercent"]!.GetValue<double>(), 0.01, 100);
        Assert.Equal(768L * 1024 * 1024, dvwa["memoryLimit"]!.GetValue<long>());
        Assert.InRange(dvwa["memoryUsed"]!.GetValue<long>(), 1, 768L * 1024 * 1024);
        Assert.NotEmpty(stats["series"]!.AsArray());

        var (_, logs, _) = await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/logs?lines=100", token);
        var log = Assert.Single(logs["data"]!["containers"]!.AsArray())!;
        Assert.Equal("dvwa", log["name"]!.GetValue<string>());
        Assert.Contains("dvwa: started", log["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/logs?lines=0", token)).Status);

        var stranger = server.Token(Guid.NewGuid());
        Assert.Equal(HttpStatusCode.NotFound, (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/stats", stranger)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/logs", stranger)).Status);
        Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/stats", _admin)).Status);
        Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/logs", _admin)).Status);
        var agent = (await AdminViewAsync(id))["agent"]!;
        Assert.True(agent["cpuPercent"]!.GetValue<double>() > 0);
        Assert.False(agent["silent"]!.GetValue<bool>());
        await server.StopAndWaitAsync(id, token);
    }

    [Fact]
    public async Task HostileHeartbeats_AreRefused_AndNothingOfThemIsStored_NorDoesAnyChangeTheStatus()
    {
        var (token, id) = await StartWithoutItsAgentAsync();

        Assert.Equal(HttpStatusCode.NotFound, (await server.SendAsync(HttpMethod.Post, HeartbeatPath(id, "0000"), body: Heartbeat("wrongkey"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await server.SendAsync(HttpMethod.Post, HeartbeatPath(Guid.NewGuid().ToString()), body: Heartbeat("unknown"))).Status);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await server.SendAsync(HttpMethod.Post, HeartbeatPath(id), body: Heartbeat("huge", log: new string('x', 70_000)))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await server.SendAsync(HttpMethod.Post, HeartbeatPath(id), body: "{\"boot\":1,")).Status);
        var nestedField = Heartbeat("nested").Replace("\"health\":null", "\"health\":null,\"privileged\":true", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await server.SendAsync(HttpMethod.Post, HeartbeatPath(id), body: nestedField)).Status);
        var (badName, problems, _) = await server.SendAsync(HttpMethod.Post, HeartbeatPath(id), body: Heartbeat("a;rm -rf"));
        Assert.Equal(HttpStatusCode.BadRequest, badName);
        Assert.Contains("containers[0].name", problems["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // One is taken; one right after it is too soon.
        Assert.Equal(HttpStatusCode.Accepted, (await server.SendAsync(HttpMethod.Post, HeartbeatPath(id), body: Heartbeat("kept", "exited", "kept\0line"))).Status);
        var (tooSoon, _, response) = await server.SendAsync(HttpMethod.Post, HeartbeatPath(id), body: Heartbeat("soon"));
        Assert.Equal(HttpStatusCode.TooManyRequests, tooSoon);
        Assert.True(response.Headers.Contains("Retry-After"));

        var stats = (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/stats", token)).Body["data"]!;
        Assert.Equal("kept", Assert.Single(stats["containers"]!.AsArray())!["name"]!.GetValue<string>());
        var logs = (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/logs", token)).Body["data"]!.ToJsonString();
        Assert.Contains("kept line", logs, StringComparison.Ordinal);
        foreach (var refused in new[] { "wrongkey", "unknown", "huge", "nested", "rm -rf", "soon" })
        {
            Assert.DoesNotContain(refused, logs + stats.ToJsonString(), StringComparison.Ordinal);
        }

        // A container reported exited changes no status: the lab still runs until its session decides.
        Assert.Equal("running", (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Body["data"]!["status"]!.GetValue<string>());
        Assert.Equal(0L, await server.Db.ScalarAsync<long>($"SELECT count(*) FROM instance_heartbeats WHERE containers::text LIKE '%soon%' OR containers::text LIKE '%wrongkey%'"));
        await server.StopAndWaitAsync(id, token);
    }

    [Fact]
    public async Task AnExitedContainer_IsRestartedOnce_OneThatFailsAgainDegradesTheLab_AndARestartRecoversIt()
    {
        var token = server.Token(Guid.NewGuid());
        var notifications = new ConcurrentQueue<JsonObject>();
        await using var learner = await ConnectAsync(token, notifications);
        var operatorNotes = new ConcurrentQueue<JsonObject>();
        await using var @operator = await ConnectAsync(_admin, operatorNotes);
        var id = await server.StartRunningAsync(DvwaLab, token);
        var vm = await VmOfAsync(id);
        string? Kind(JsonObject n) => n["metadata"]?["kind"]?.GetValue<string>();
        bool Heard(ConcurrentQueue<JsonObject> q, string kind) => q.Any(n => Kind(n) == kind && n["metadata"]!["instanceId"]?.GetValue<string>() == id);

        await server.Emulator.ExitContainerAsync(vm, "dvwa");
        await EventuallyAsync(() => Task.FromResult(Heard(notifications, "restarted") ? "" : null), "the learner told of the restart");
        Assert.Contains("dvwa stopped and was restarted", notifications.First(n => Kind(n) == "restarted")["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False((await AdminViewAsync(id))["agent"]!["degraded"]!.GetValue<bool>());

        // It fails again in the same boot: the agent starts no container twice, and the lab is degraded.
        await server.Emulator.ExitContainerAsync(vm, "dvwa", keepsFailing: true);
        await EventuallyAsync(() => Task.FromResult(Heard(notifications, "degraded") ? "" : null), "the learner told the lab is degraded");
        Assert.Contains("Reset", notifications.First(n => Kind(n) == "degraded")["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True((await AdminViewAsync(id))["agent"]!["degraded"]!.GetValue<bool>());
        await EventuallyAsync(() => Task.FromResult(Heard(operatorNotes, "degraded") ? "" : null), "operators told the lab is degraded");
        Assert.Equal("running", (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Body["data"]!["status"]!.GetValue<string>());

        // A restart boots the VM again, and with it the containers: the marker goes with the next heartbeat.
        Assert.Equal(HttpStatusCode.Accepted, (await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/restart", token)).Status);
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Provisioning);
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        await EventuallyAsync(async () => (await AdminViewAsync(id))["agent"]!["degraded"]!.GetValue<bool>() ? null : "", "the degraded marker cleared");
        await server.StopAndWaitAsync(id, token);
    }

    [Fact]
    public async Task ASilentAgent_IsMarkedForOperators_WhoAreTold_AndReconciliationRunsAtOnce()
    {
        var token = server.Token(Guid.NewGuid());
        var operatorNotes = new ConcurrentQueue<JsonObject>();
        await using var @operator = await ConnectAsync(_admin, operatorNotes);
        var id = await server.StartRunningAsync(CryptoLab, token);
        await EventuallyAsync(async () => (await AdminViewAsync(id))["agent"] is JsonObject a ? a : null, "the first heartbeat");
        var runsBefore = (await server.SendAsync(HttpMethod.Get, "/api/admin/reconciliation", _admin)).Body["data"]!.AsArray().Count;

        await server.Emulator.SilenceAgentAsync(await VmOfAsync(id));
        await EventuallyAsync(async () => (await AdminViewAsync(id))["agent"]!["silent"]!.GetValue<bool>() ? "" : null, "the no-heartbeat marker", 15);
        await EventuallyAsync(() => Task.FromResult(operatorNotes.Any(n => n["metadata"]?["kind"]?.GetValue<string>() == "silent"
            && n["metadata"]!["instanceId"]!.GetValue<string>() == id) ? "" : null), "operators told");
        await EventuallyAsync(async () => (await server.SendAsync(HttpMethod.Get, "/api/admin/reconciliation", _admin)).Body["data"]!.AsArray().Count > runsBefore ? "" : null,
            "a reconciliation run");

        await server.Emulator.SilenceAgentAsync(await VmOfAsync(id), silent: false);
        await EventuallyAsync(async () => (await AdminViewAsync(id))["agent"]!["silent"]!.GetValue<bool>() ? null : "", "the marker cleared by the next heartbeat");
        await server.StopAndWaitAsync(id, token);
    }

    [Fact]
    public async Task ATcpLabsTraffic_SeenInHeartbeats_CountsAsActivity_AndSilenceDoesNot()
    {
        var token = server.Token(Guid.NewGuid());
        var id = await server.StartFromAsync(NetworkLab, token, "127.0.0.1");
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        var view = await AdminViewAsync(id);
        var ip = view["publicIp"]!.GetValue<string>();
        var tcpPort = view["ports"]!.AsArray().Select(p => p!.GetValue<int>()).First(p => p != 80);
        await EventuallyAsync(async () => (await AdminViewAsync(id))["agent"] is JsonObject a ? a : null, "the first heartbeat");
        await Task.Delay(2500);
        var idle = await server.Db.ScalarAsync<DateTime?>($"SELECT coalesce(last_activity_at, 'epoch') FROM lab_instances WHERE id = '{id}'") ?? DateTime.MinValue;
        await Task.Delay(2500);
        Assert.Equal(idle, await server.Db.ScalarAsync<DateTime?>($"SELECT coalesce(last_activity_at, 'epoch') FROM lab_instances WHERE id = '{id}'") ?? DateTime.MinValue);

        // The learner works on the lab's TCP port, which the gateway never sees.
        for (var i = 0; i < 3; i++)
        {
            using var tcp = new TcpClient(new IPEndPoint(IPAddress.Loopback, 0));
            await tcp.ConnectAsync(IPAddress.Parse(ip), tcpPort);
        }

        await EventuallyAsync(async () => await server.Db.ScalarAsync<DateTime?>($"SELECT coalesce(last_activity_at, 'epoch') FROM lab_instances WHERE id = '{id}'") is { } at && at > idle ? "" : null,
            "the activity from the heartbeat's network bytes", 10);
        await server.StopAndWaitAsync(id, token);
    }

    [Fact]
    public async Task EachLearnersFlag_IsTheirOwn_AnotherLearnersIsWrongAndSignalled_AndNoneIsEverShownOrLogged()
    {
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var (tokenA, tokenB) = (server.Token(a), server.Token(b));
        var never = server.Token(Guid.NewGuid());
        const string SecretPath = "/api/labs/" + DvwaLab + "/exercises/sqli-secret/submit";
        var (refused, body, _) = await server.SendAsync(HttpMethod.Post, SecretPath, never, """{"answer": "FLAG{guess}"}""");
        Assert.Equal((HttpStatusCode.Conflict, "Start the lab first: this exercise's answer comes from your own lab"), (refused, body["message"]!.GetValue<string>()));

        var ids = new[] { await server.StartRunningAsync(DvwaLab, tokenA), await server.StartRunningAsync(DvwaLab, tokenB) };
        // Each learner reads the flag out of their own lab, as the exercise asks.
        var flags = new List<string>();
        foreach (var id in ids)
        {
            using var lab = new HttpClient();
            flags.Add(await lab.GetStringAsync($"http://{(await AdminViewAsync(id))["publicIp"]!.GetValue<string>()}/env/FLAG_SQLI"));
        }

        Assert.Matches("^FLAG\\{[0-9a-f]{32}\\}$", flags[0]);
        Assert.NotEqual(flags[0], flags[1]);

        var answers = new StringBuilder();
        async Task<JsonObject> Send(HttpMethod method, string path, string token, string? json = null)
        {
            var (_, reply, _) = await server.SendAsync(method, path, token, json);
            answers.Append(reply.ToJsonString());
            return reply;
        }

        var stolen = await Send(HttpMethod.Post, SecretPath, tokenA, $$"""{"answer": "{{flags[1]}}"}""");
        Assert.False(stolen["data"]!["correct"]!.GetValue<bool>());
        var own = await Send(HttpMethod.Post, SecretPath, tokenA, $$"""{"answer": "{{flags[0]}}"}""");
        Assert.Equal("Right! 50 points", own["message"]!.GetValue<string>());
        var signal = Assert.Single((await Send(HttpMethod.Get, "/api/admin/flag-signals", _admin))["data"]!.AsArray(), s => s!["userId"]!.GetValue<Guid>() == a)!;
        Assert.Equal((b, Guid.Parse(ids[1]), "sqli-secret"), (signal["flagUserId"]!.GetValue<Guid>(), signal["flagInstanceId"]!.GetValue<Guid>(), signal["exerciseId"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.Forbidden, (await server.SendAsync(HttpMethod.Get, "/api/admin/flag-signals", tokenA)).Status);

        foreach (var (id, token) in ids.Zip([tokenA, tokenB]))
        {
            await Send(HttpMethod.Get, $"/api/labs/instances/{id}", token);
            await Send(HttpMethod.Get, $"/api/labs/instances/{id}/logs", token);
            await Send(HttpMethod.Post, $"/api/labs/instances/{id}/access", token);
            await Send(HttpMethod.Get, $"/api/labs/{DvwaLab}", token);
            await Send(HttpMethod.Get, $"/api/labs/{DvwaLab}/progress", token);
        }

        await Send(HttpMethod.Get, "/api/admin/instances?all=true", _admin);
        await Send(HttpMethod.Get, "/api/labs", tokenA);
        foreach (var (id, token) in ids.Zip([tokenA, tokenB]))
        {
            await server.StopAndWaitAsync(id, token);
        }

        var log = string.Join('\n', server.Logs.Lines);
        Assert.Contains(ids[0], log, StringComparison.Ordinal);
        foreach (var flag in flags)
        {
            Assert.DoesNotContain(flag, answers.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(flag, log, StringComparison.Ordinal);
            Assert.DoesNotContain(flag[5..^1], log, StringComparison.Ordinal);
        }

        // Only the flags' hashes are kept.
        Assert.Equal(Core.Labs.Flags.Hash(flags[0]), await server.Db.ScalarAsync<string>($"SELECT flag_sha256 FROM instance_flags WHERE instance_id = '{ids[0]}'"));
    }

    [Fact]
    public async Task TheRenderedAgentScript_RunWithAStandInDocker_ReportsWhatDockerPrints()
    {
        var (token, id) = await StartWithoutItsAgentAsync();

        var dir = Directory.CreateTempSubdirectory("agent-").FullName;
        try
        {
            var bin = Directory.CreateDirectory(Path.Combine(dir, "bin")).FullName;
            // What Docker prints for these commands on a VM whose "web" runs and whose "db" exited; "docker start" is recorded.
            await File.WriteAllTextAsync(Path.Combine(bin, "docker"), $$"""
                #!/bin/bash
                case "$1" in
                  ps) printf 'web\ndb\n' ;;
                  inspect)
                    if [ "$#" -eq 4 ]; then
                      if [ "$4" = db ] && [ ! -e '{{dir}}/started-db' ]; then echo exited; else echo running; fi
                    else
                      echo '{"name":"/web","state":"running","exitCode":0,"restarts":0,"health":"healthy"}'
                      echo '{"name":"/db","state":"exited","exitCode":1,"restarts":3,"health":null}'
                    fi ;;
                  stats) echo '{"name":"web","cpu":"12.34%","mem":"100MiB / 1GiB","net":"1.5kB / 2MB"}' ;;
                  logs) printf '%s listening\n' "$4"; printf 'a "quoted" line \\ with \xe2\x9c\x93 and \x1b[31m\n' ;;
                  start) touch '{{dir}}/started-db'; echo "$2" >> '{{dir}}/started' ;;
                esac
                """.Replace("\r", "", StringComparison.Ordinal));
            File.SetUnixFileMode(Path.Combine(bin, "docker"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var url = new Uri(server.Http.BaseAddress!, HeartbeatPath(id)).ToString();
            var script = CloudInitRenderer.AgentScript(url).Replace("/var/lib/labmanager", Path.Combine(dir, "state"), StringComparison.Ordinal);
            await File.WriteAllTextAsync(Path.Combine(dir, "agent"), script);

            async Task RunAsync()
            {
                var start = new ProcessStartInfo("bash", [Path.Combine(dir, "agent")]) { RedirectStandardError = true };
                start.Environment["PATH"] = bin + ":/usr/bin:/bin";
                using var process = Process.Start(start)!;
                var stderr = await process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();
                Assert.True(process.ExitCode == 0, $"the agent failed ({process.ExitCode}): {stderr}");
            }

            await RunAsync();
            var stats = (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/stats", token)).Body["data"]!;
            var containers = stats["containers"]!.AsArray().ToDictionary(c => c!["name"]!.GetValue<string>(), c => c!);
            Assert.Equal(("running", "healthy", 12.34, 100L << 20, 1L << 30, 1500L, 2_000_000L), (containers["web"]["state"]!.GetValue<string>(), containers["web"]["health"]!.GetValue<string>(),
                containers["web"]["cpuPercent"]!.GetValue<double>(), containers["web"]["memoryUsed"]!.GetValue<long>(), containers["web"]["memoryLimit"]!.GetValue<long>(),
                containers["web"]["netIn"]!.GetValue<long>(), containers["web"]["netOut"]!.GetValue<long>()));
            Assert.Equal(("exited", 1, 3), (containers["db"]["state"]!.GetValue<string>(), containers["db"]["exitCode"]!.GetValue<int>(), containers["db"]["restarts"]!.GetValue<int>()));
            Assert.Equal(["db"], await File.ReadAllLinesAsync(Path.Combine(dir, "started")));
            var logs = (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}/logs", token)).Body["data"]!["containers"]!.AsArray()
                .ToDictionary(c => c!["name"]!.GetValue<string>(), c => c!["text"]!.GetValue<string>());
            Assert.Equal("db listening\na \"quoted\" line \\ with \u2713 and  [31m\n", logs["db"]);

            // The next run, in the same boot, starts nothing again.
            await Task.Delay(600);
            await RunAsync();
            Assert.Equal(["db"], await File.ReadAllLinesAsync(Path.Combine(dir, "started")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        await server.StopAndWaitAsync(id, token);
    }
}
