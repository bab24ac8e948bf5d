using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Core.Instances;
using LabManager.VultrEmulator;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static LabManager.Server.Tests.ServerFixture;

namespace LabManager.Server.Tests;

/// <summary>The API over HTTP against the Server, PostgreSQL and the emulator.</summary>
public sealed class ApiEndToEndTests(ServerFixture server) : IClassFixture<ServerFixture>
{

    [Fact]
    public async Task Lifecycle_StartRunningStop_AccessUrlAnswersAndNoVmLeft()
    {
        var token = server.Token(Guid.NewGuid());
        var (status, body, _) = await server.StartAsync(DvwaLab, token, """{"timeoutOverride": 600000}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.True(body["success"]!.GetValue<bool>());
        Assert.Equal("Lab starting", body["message"]!.GetValue<string>());
        var id = body["data"]!["id"]!.GetValue<string>();
        Assert.Equal("starting", body["data"]!["status"]!.GetValue<string>());

        var running = await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        // The lab is reached through the gateway, at a host of its own, after the learner asked for access; the VM's address is not shown.
        var url = running["accessUrl"]!.GetValue<string>();
        Assert.Equal($"http://{id}.lab.localhost:{server.Http.BaseAddress!.Port}/login.php", url);
        Assert.Null(running["publicIp"]);
        using var visitor = server.Visitor();
        Assert.Contains(running["cloudInstanceId"]!.GetValue<string>(), await visitor.GetStringAsync(await server.AccessLinkAsync(id, token)), StringComparison.Ordinal);
        var started = running["startedAt"]!.GetValue<DateTimeOffset>();
        Assert.Equal(started.AddMinutes(10), running["expiresAt"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));
        Assert.True(running["progress"]?["step"] is not null, running.ToJsonString());
        Assert.Equal("running", running["progress"]!["step"]!.GetValue<string>());

        var (stopStatus, stopBody, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
        Assert.Equal(HttpStatusCode.Accepted, stopStatus);
        Assert.Equal("Stopping", stopBody["message"]!.GetValue<string>());
        var stopped = await server.WaitForStatusAsync(id, token, LabInstanceStatus.Stopped);
        Assert.NotNull(stopped["endedAt"]);
        await server.AssertNoVmLeftAsync([id]);

        var (again, againBody, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/stop", token);
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal("The instance already ended (stopped)", againBody["message"]!.GetValue<string>());
        var (_, list, _) = await server.SendAsync(HttpMethod.Get, "/api/labs/instances/list", token);
        Assert.Equal(id, Assert.Single(list["data"]!.AsArray())!["id"]!.GetValue<string>());
        var (_, stats, _) = await server.SendAsync(HttpMethod.Get, "/api/users/me/stats", token);
        Assert.Equal("""{"total":1,"active":0,"stopped":1,"expired":0,"error":0}""", stats["data"]!.ToJsonString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.SendAsync(HttpMethod.Get, "/api/users/me/stats")).Status);
    }

    [Fact]
    public async Task Start_SameLabWhileStarting_ReturnsExistingInstance()
    {
        var token = server.Token(Guid.NewGuid());
        var (first, firstBody, _) = await server.StartAsync(NetworkLab, token);
        var (second, secondBody, _) = await server.StartAsync(NetworkLab, token);

        Assert.Equal(HttpStatusCode.Created, first);
        Assert.Equal(HttpStatusCode.OK, second);
        var id = firstBody["data"]!["id"]!.GetValue<string>();
        Assert.Equal(id, secondBody["data"]!["id"]!.GetValue<string>());
        Assert.Equal("This lab is already starting or running for you", secondBody["message"]!.GetValue<string>());

        // Running before the stop: a session stopped before its VM is made never makes one, which would leave nothing to count.
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        await server.StopAndWaitAsync(id, token);
        await server.AssertNoVmLeftAsync([id]);
        var inspection = await server.Emulator.InspectAsync();
        Assert.Equal(1, inspection.Creates[LabInstance.VmLabel(Guid.Parse(id))]);
    }

    [Theory]
    [InlineData("", 4)]
    [InlineData("?category=web", 2)]
    [InlineData("?difficulty=advanced", 1)]
    [InlineData("?search=JUICE", 1)]
    [InlineData("?search=owasp-top-10&difficulty=beginner", 1)]
    [InlineData("?category=hardware", 0)]
    public async Task ListLabs_Filters_NoTokenNeeded(string query, int count)
    {
        var (status, body, _) = await server.SendAsync(HttpMethod.Get, "/api/labs" + query);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(count, body["data"]!.AsArray().Count);
    }

    [Fact]
    public async Task ListLabs_HintsShowCostNotText()
    {
        var (_, body, _) = await server.SendAsync(HttpMethod.Get, "/api/labs?search=dvwa");
        var hint = body["data"]![0]!["exercises"]![0]!["hints"]![0]!.AsObject();
        Assert.Equal(5, hint["cost"]!.GetValue<int>());
        Assert.False(hint.ContainsKey("text"));
    }

    [Fact]
    public async Task GetLab_WithToken_IncludesCallersInstances()
    {
        var user = Guid.NewGuid();
        var token = server.Token(user);
        var (anonStatus, anon, _) = await server.SendAsync(HttpMethod.Get, $"/api/labs/{CryptoLab}");
        Assert.Equal(HttpStatusCode.OK, anonStatus);
        Assert.Empty(anon["data"]!["userInstances"]!.AsArray());
        Assert.False(anon["data"]!["isRunning"]!.GetValue<bool>());
        Assert.Equal("crypto-padding-oracle", anon["data"]!["slug"]!.GetValue<string>());
        Assert.NotEmpty(anon["data"]!["exercises"]!.AsArray());

        var id = await server.StartRunningAsync(CryptoLab, token);
        var (_, mine, _) = await server.SendAsync(HttpMethod.Get, $"/api/labs/{CryptoLab}", token);
        var instance = Assert.Single(mine["data"]!["userInstances"]!.AsArray())!;
        Assert.Equal(id, instance["id"]!.GetValue<string>());
        Assert.NotEmpty(instance["ports"]!.AsArray());
        Assert.True(mine["data"]!["isRunning"]!.GetValue<bool>());

        await server.StopAndWaitAsync(id, token);
        await server.AssertNoVmLeftAsync([id]);
    }

    public static TheoryData<string, string?> BadTokens()
    {
        var now = DateTime.UtcNow;
        var handler = new JsonWebTokenHandler();
        string Sign(string key, string audience, DateTime expires) => handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "labmanager",
            Audience = audience,
            Claims = new Dictionary<string, object> { ["sub"] = Guid.NewGuid().ToString() },
            IssuedAt = expires.AddHours(-1),
            NotBefore = expires.AddHours(-1),
            Expires = expires,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
        static string B64(string json) => Base64UrlEncoder.Encode(json);
        var unsigned = B64("""{"alg":"none","typ":"JWT"}""") + "." + B64($$"""{"sub":"{{Guid.NewGuid()}}","iss":"labmanager","aud":"labmanager-api","exp":{{new DateTimeOffset(now.AddHours(1)).ToUnixTimeSeconds()}}}""") + ".";
        return new()
        {
            { "missing", null },
            { "garbage", "not-a-token" },
            { "expired", Sign(SigningKey, "labmanager-api", now.AddMinutes(-5)) },
            { "forged", Sign("another-key-that-is-long-enough-0123456789", "labmanager-api", now.AddHours(1)) },
            { "wrong audience", Sign(SigningKey, "someone-else", now.AddHours(1)) },
            { "alg none", unsigned },
        };
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Start_BadToken_401AndNothingChanged(string kind, string? token)
    {
        var before = await server.InstanceCountAsync();

        var (status, body, response) = await server.StartAsync(DvwaLab, token!);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.False(body["success"]!.GetValue<bool>());
        Assert.Equal(kind switch { "missing" => "A bearer token is required", "expired" => "The token has expired", _ => "The token is not valid" },
            body["message"]!.GetValue<string>());
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(before, await server.InstanceCountAsync());
    }

    [Fact]
    public async Task OtherUsersInstance_404OnEveryRoute()
    {
        var owner = server.Token(Guid.NewGuid());
        var other = server.Token(Guid.NewGuid());
        var (_, started, _) = await server.StartAsync(JuiceShopLab, owner);
        var id = started["data"]!["id"]!.GetValue<string>();

        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"/api/labs/instances/{id}"), (HttpMethod.Post, $"/api/labs/instances/{id}/stop"),
            (HttpMethod.Post, $"/api/labs/instances/{id}/restart"), (HttpMethod.Post, $"/api/labs/instances/{id}/reset"),
        })
        {
            var (status, body, _) = await server.SendAsync(method, path, other);
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.Equal("Instance not found", body["message"]!.GetValue<string>());
        }

        var (extend, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/extend", other, """{"minutes": 10}""");
        Assert.Equal(HttpStatusCode.NotFound, extend);
        Assert.Empty((await server.SendAsync(HttpMethod.Get, "/api/labs/instances/list", other)).Body["data"]!.AsArray());

        await server.StopAndWaitAsync(id, owner);
        await server.AssertNoVmLeftAsync([id]);
    }

    [Fact]
    public async Task Features_SayWhatThisDeploymentOffers_WithoutAToken()
    {
        var (status, body, _) = await server.SendAsync(HttpMethod.Get, "/api/features");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body["data"]!["devTokens"]!.GetValue<bool>());
        Assert.False(body["data"]!["tutor"]!.GetValue<bool>());
        Assert.Equal("/hubs/labs", body["data"]!["realtimeUrl"]!.GetValue<string>());
    }

    [Fact]
    public async Task AdminRoutes_UserGets403_AdminListsAndForceStops()
    {
        var learner = Guid.NewGuid();
        var learnerToken = server.Token(learner);
        var admin = server.Token(Guid.NewGuid(), admin: true);
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/api/admin/instances"), (HttpMethod.Post, $"/api/admin/instances/{Guid.NewGuid()}/stop"), (HttpMethod.Post, "/api/admin/cleanup"), (HttpMethod.Get, "/api/admin/activity") })
        {
            var (status, body, _) = await server.SendAsync(method, path, learnerToken);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Equal("This route needs the admin role", body["message"]!.GetValue<string>());
        }

        var id = await server.StartRunningAsync(DvwaLab, learnerToken);

        var (listStatus, list, _) = await server.SendAsync(HttpMethod.Get, "/api/admin/instances", admin);
        Assert.Equal(HttpStatusCode.OK, listStatus);
        var listed = Assert.Single(list["data"]!.AsArray(), i => i!["id"]!.GetValue<string>() == id)!;
        Assert.Equal(learner.ToString(), listed["userId"]!.GetValue<string>());
        Assert.Equal("DVWA: SQL injection", listed["labName"]!.GetValue<string>());
        Assert.Equal("learner", listed["userName"]!.GetValue<string>());
        Assert.Equal(0.007m, listed["costSoFar"]!.GetValue<decimal>());

        var (activityStatus, activity, _) = await server.SendAsync(HttpMethod.Get, "/api/admin/activity?minutes=10", admin);
        Assert.Equal(HttpStatusCode.OK, activityStatus);
        var active = activity["data"]!["active"]!.AsArray().Select(n => n!.GetValue<int>()).ToList();
        Assert.Equal(11, active.Count);
        Assert.Equal(60, activity["data"]!["stepSeconds"]!.GetValue<int>());
        Assert.True(active[^1] >= 1, "the running instance counts now");
        foreach (var bad in new[] { "4", "1441", "ten", "-5" })
        {
            var (badStatus, badBody, _) = await server.SendAsync(HttpMethod.Get, $"/api/admin/activity?minutes={bad}", admin);
            Assert.Equal(HttpStatusCode.BadRequest, badStatus);
            Assert.Equal("minutes must be a whole number from 5 to 1440", badBody["message"]!.GetValue<string>());
        }

        var (stopStatus, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/admin/instances/{id}/stop", admin);
        Assert.Equal(HttpStatusCode.Accepted, stopStatus);
        await server.WaitForStatusAsync(id, learnerToken, LabInstanceStatus.Stopped);
        await server.AssertNoVmLeftAsync([id]);
        var (missing, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/admin/instances/{Guid.NewGuid()}/stop", admin);
        Assert.Equal(HttpStatusCode.NotFound, missing);
        var vms = (await server.Emulator.InspectAsync()).Vms.Count;
        var (cleanup, report, _) = await server.SendAsync(HttpMethod.Post, "/api/admin/cleanup", admin);
        Assert.Equal(HttpStatusCode.OK, cleanup);
        Assert.Equal(0, report["data"]!["actions"]!.GetValue<int>());
        Assert.Equal(vms, report["data"]!["taggedVms"]!.GetValue<int>());
        var (runsStatus, runs, _) = await server.SendAsync(HttpMethod.Get, "/api/admin/reconciliation", admin);
        Assert.Equal(HttpStatusCode.OK, runsStatus);
        Assert.Equal(report["data"]!["startedAt"]!.GetValue<DateTimeOffset>(), runs["data"]![0]!["startedAt"]!.GetValue<DateTimeOffset>(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(HttpStatusCode.Forbidden, (await server.SendAsync(HttpMethod.Get, "/api/admin/reconciliation", learnerToken)).Status);
    }

    [Fact]
    public async Task StartAgain_AfterTheSessionWasNeverScheduled_SchedulesItAndTheLabRuns()
    {
        // As if the process died between admitting the start and scheduling its session a minute ago.
        var learner = Guid.NewGuid();
        var stranded = Guid.NewGuid();
        await server.Db.ScalarAsync<int>($"""
            INSERT INTO users (id) VALUES ('{learner}');
            INSERT INTO lab_instances (id, user_id, lab_id, status, created_at) VALUES ('{stranded}', '{learner}', '{CryptoLab}', 'starting', now() - interval '1 minute');
            SELECT 1
            """);
        var token = server.Token(learner);

        var (status, body, _) = await server.StartAsync(CryptoLab, token);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(stranded.ToString(), body["data"]!["id"]!.GetValue<string>());
        await server.WaitForStatusAsync(stranded.ToString(), token, LabInstanceStatus.Running);
        await server.StopAndWaitAsync(stranded.ToString(), token);
    }

    [Fact]
    public async Task PhoneHome_RightKeyAccepted_WrongKeyLooksLikeNoInstance()
    {
        var token = server.Token(Guid.NewGuid());
        var (_, started, _) = await server.StartAsync(JuiceShopLab, token);
        var id = Guid.Parse(started["data"]!["id"]!.GetValue<string>());

        var (wrong, refused, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/ready?key={Core.Instances.PhoneHome.Key("another-secret", id)}");
        var (missing, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/ready");
        var (right, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/ready?key={Core.Instances.PhoneHome.Key(PhoneHomeKey, id)}");

        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.Accepted), (wrong, missing, right));
        Assert.Equal("Instance not found", refused["message"]!.GetValue<string>());
        await server.WaitForStatusAsync(id.ToString(), token, LabInstanceStatus.Running);
        await server.StopAndWaitAsync(id.ToString(), token);
    }

    [Fact]
    public async Task Tutor_WithoutAProvider_503AndNothingElseChanges()
    {
        var token = server.Token(Guid.NewGuid());
        var (status, body, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/{DvwaLab}/tutor", token, """{"question": "Where do I start?"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(Api.Labs.ProgressApi.NoTutor, body["message"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(HttpMethod.Get, $"/api/labs/{DvwaLab}/progress", token)).Status);
    }

    [Fact]
    public async Task Cleanup_SyncsVmStatusIntoTheInstance_AndMetricsAreScraped()
    {
        var learnerToken = server.Token(Guid.NewGuid());
        var id = await server.StartRunningAsync(JuiceShopLab, learnerToken);

        var (cleanup, _, _) = await server.SendAsync(HttpMethod.Post, "/api/admin/cleanup", server.Token(Guid.NewGuid(), admin: true));
        Assert.Equal(HttpStatusCode.OK, cleanup);
        var instance = (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", learnerToken)).Body["data"]!;
        Assert.Equal("active/running/ok", instance["vmStatus"]!.GetValue<string>());

        var metrics = await server.Http.GetStringAsync("/metrics");
        Assert.Matches(@"labmanager_instances_active\{[^}]*status=""running""[^}]*\} [1-9]", metrics);
        Assert.Matches(@"labmanager_vms\{[^}]*state=""active/running/ok""[^}]*\} [1-9]", metrics);
        Assert.Matches(@"labmanager_reconciliation_duration_seconds_count(\{[^}]*\})? [1-9]", metrics);
        Assert.Contains("labmanager_reconciliation_orphans_destroyed_total", metrics, StringComparison.Ordinal);

        await server.StopAndWaitAsync(id, learnerToken);
    }

    [Theory]
    [InlineData("/api/labs/" + DvwaLab + "/start", """{"timeoutOverride": 600000""", 400, "The request body is not valid JSON")]
    [InlineData("/api/labs/" + DvwaLab + "/start", """{"timeoutOverride": "soon"}""", 400, "timeoutOverride must be a whole number")]
    [InlineData("/api/labs/" + DvwaLab + "/start", """{"timeout": 600000}""", 400, "The request body has fields this route does not take")]
    [InlineData("/api/labs/" + DvwaLab + "/start", """[1,2]""", 400, "The request body must be a JSON object")]
    [InlineData("/api/labs/instances/" + DvwaLab + "/extend", """{"minutes": "ten"}""", 400, "minutes must be a whole number")]
    [InlineData("/api/labs/" + DvwaLab + "/start", """{"timeoutOverride": 1000}""", 400, "timeoutOverride must be between 300000 and 14400000 ms")]
    [InlineData("/api/labs/" + DvwaLab + "/start", """{"timeoutOverride": 99999999999}""", 400, "timeoutOverride must be between 300000 and 14400000 ms")]
    [InlineData("/api/labs/not-a-uuid/start", "{}", 400, "The lab id must be a UUID")]
    [InlineData("/api/labs/00000000-0000-0000-0000-000000000001/start", "{}", 404, "Lab not found")]
    [InlineData("/api/labs/instances/123/stop", null, 400, "The instance id must be a UUID")]
    [InlineData("/api/labs/instances/" + DvwaLab + "/extend", """{"minutes": 0}""", 400, "minutes must be between 1 and 120")]
    public async Task BadInput_ClearErrorAndNothingChanged(string path, string? body, int expected, string message)
    {
        var before = await server.InstanceCountAsync();

        var (status, json, _) = await server.SendAsync(HttpMethod.Post, path, server.Token(Guid.NewGuid()), body);

        Assert.Equal(expected, (int)status);
        Assert.False(json["success"]!.GetValue<bool>());
        Assert.Equal(message, json["message"]!.GetValue<string>());
        // Errors speak of the request, never of our code.
        Assert.DoesNotContain("LabManager", json.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Path: $", json.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(before, await server.InstanceCountAsync());
    }

    [Fact]
    public async Task OversizeBody_413AndNothingChanged()
    {
        var before = await server.InstanceCountAsync();
        var body = $$"""{"timeoutOverride": 600000, "pad": "{{new string('x', 20_000)}}"}""";

        var (status, json, _) = await server.StartAsync(DvwaLab, server.Token(Guid.NewGuid()), body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("The request body is larger than 16384 bytes", json["message"]!.GetValue<string>());
        Assert.Equal(before, await server.InstanceCountAsync());
    }

    [Fact]
    public async Task RestartResetExtend_NotRunning_409()
    {
        var token = server.Token(Guid.NewGuid());
        var (_, started, _) = await server.StartAsync(JuiceShopLab, token);
        var id = started["data"]!["id"]!.GetValue<string>();
        await server.StopAndWaitAsync(id, token);

        foreach (var (verb, body) in new[] { ("restart", (string?)null), ("reset", null), ("extend", """{"minutes": 5}""") })
        {
            var (status, json, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/{verb}", token, body);
            Assert.Equal(HttpStatusCode.Conflict, status);
            Assert.StartsWith("Only a running lab can be", json["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        await server.AssertNoVmLeftAsync([id]);
    }

    [Fact]
    public async Task RestartAndExtend_Running_Accepted()
    {
        var token = server.Token(Guid.NewGuid());
        var (_, started, _) = await server.StartAsync(DvwaLab, token);
        var id = started["data"]!["id"]!.GetValue<string>();
        var running = await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);

        // No body: the default step of 15 minutes, as the seed's client asks.
        var (extend, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/extend", token);
        Assert.Equal(HttpStatusCode.Accepted, extend);
        var expected = running["expiresAt"]!.GetValue<DateTimeOffset>().AddMinutes(15);
        for (var i = 0; i < 100 && (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Body["data"]!["expiresAt"]!.GetValue<DateTimeOffset>() != expected; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(expected, (await server.SendAsync(HttpMethod.Get, $"/api/labs/instances/{id}", token)).Body["data"]!["expiresAt"]!.GetValue<DateTimeOffset>());
        var (restart, _, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/instances/{id}/restart", token);
        Assert.Equal(HttpStatusCode.Accepted, restart);
        await server.WaitForStatusAsync(id, token, LabInstanceStatus.Provisioning);
        var again = await server.WaitForStatusAsync(id, token, LabInstanceStatus.Running);
        Assert.Equal(1, again["restartCount"]!.GetValue<int>());

        await server.StopAndWaitAsync(id, token);
        await server.AssertNoVmLeftAsync([id]);
    }

    [Fact]
    public async Task Health_StatusForBalancers_DetailsForOperatorsOnly()
    {
        var (status, body, _) = await server.SendAsync(HttpMethod.Get, "/health");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("healthy", body["message"]!.GetValue<string>());
        Assert.False(body.ContainsKey("data"));

        Assert.Equal(HttpStatusCode.Unauthorized, (await server.SendAsync(HttpMethod.Get, "/health/details")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await server.SendAsync(HttpMethod.Get, "/health/details", server.Token(Guid.NewGuid()))).Status);
        var admin = server.Token(Guid.NewGuid(), admin: true);
        var (detailsStatus, details, _) = await server.SendAsync(HttpMethod.Get, "/health/details", admin);
        Assert.Equal(HttpStatusCode.OK, detailsStatus);
        Assert.Equal(new JsonObject { ["postgres"] = "ok", ["durable"] = "ok", ["cloud"] = "ok" }.ToJsonString(), details["data"]!.ToJsonString());

        // Vultr refuses this address: the next Vultr call (a reconciliation) fails, and health says so, with Vultr's reason.
        await server.Emulator.SetFaultsAsync(new FaultSettings { AllowedIps = "203.0.113.7" });
        try
        {
            await server.SendAsync(HttpMethod.Post, "/api/admin/cleanup", admin);
            var (failing, report, _) = await server.SendAsync(HttpMethod.Get, "/health/details", admin);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failing);
            Assert.Equal("failing: Vultr answered 401: Unauthorized IP address: 127.0.0.1", report["data"]!["cloud"]!.GetValue<string>());
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await server.SendAsync(HttpMethod.Get, "/health")).Status);
        }
        finally
        {
            await server.Emulator.SetFaultsAsync(new FaultSettings());
        }
    }

    [Fact]
    public async Task OpenApi_DescribesEveryRoute_ItsBodyAnswersAndStatuses()
    {
        var text = await server.Http.GetStringAsync("/openapi/v1.json");
        var doc = JsonNode.Parse(text)!;
        var schemas = doc["components"]!["schemas"]!.AsObject();
        JsonObject Resolve(JsonNode schema) => schema["$ref"] is { } r ? schemas[r.GetValue<string>().Split('/')[^1]]!.AsObject() : schema.AsObject();
        JsonObject Answer(JsonNode operation, int status) => Resolve(operation["responses"]![status.ToString(CultureInfo.InvariantCulture)]!["content"]!["application/json"]!["schema"]!);
        static string[] Keys(JsonObject schema) => [.. schema["properties"]!.AsObject().Select(p => p.Key).Order()];

        foreach (var route in Api.ApiRoutes.All)
        {
            var operation = doc["paths"]![route.Pattern]?[route.Method.ToLowerInvariant()];
            Assert.True(operation is not null, $"{route.Method} {route.Pattern} is not in the document");
            Assert.Equal(route.Name, operation!["operationId"]!.GetValue<string>());
            Assert.Contains(route.Area, operation["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
            Assert.Equal(route.Statuses.Select(s => s.ToString(CultureInfo.InvariantCulture)), operation["responses"]!.AsObject().Select(r => r.Key).Order());
            foreach (var status in route.Statuses)
            {
                Assert.Equal(["data", "errors", "message", "success"], Keys(Answer(operation, status)));
            }

            if (route.Data is not null)
            {
                Assert.True(Answer(operation, route.Success)["properties"]!["data"]!.ToJsonString().Contains("$ref", StringComparison.Ordinal),
                    $"{route.Name}: the success answer's data has no shape");
            }

            Assert.Equal(route.Streams, operation["description"]?.GetValue<string>().Contains("text/event-stream", StringComparison.Ordinal) == true);
            Assert.Equal(route.Body is not null, operation["requestBody"] is not null);
            if (route.Body is not null)
            {
                Assert.NotEmpty(Keys(Resolve(operation["requestBody"]!["content"]!["application/json"]!["schema"]!)));
            }
        }

        // Enums are described as the API writes them.
        Assert.Contains("running", schemas["LabInstanceStatus"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()));

        // Real answers hold the fields the document gives their shapes.
        var labs = Answer(doc["paths"]!["/api/labs"]!["get"]!, 200)["properties"]!["data"]!;
        var labSchema = Resolve(Resolve(labs)["items"]!);
        var listed = (await server.SendAsync(HttpMethod.Get, "/api/labs")).Body["data"]!.AsArray();
        Assert.All(listed, lab => Assert.Subset(Keys(labSchema).ToHashSet(), lab!.AsObject().Select(p => p.Key).ToHashSet()));
    }

    [Fact]
    public async Task JsonBodies_SentAsCurlDoes_AreRead()
    {
        // `curl -d '{}'` (the README's commands) labels the JSON as a form: the body is still read as JSON, never refused with 415.
        using var content = new StringContent("{}", Encoding.UTF8, "application/x-www-form-urlencoded");
        using var response = await server.Http.PostAsync("/api/dev/token", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(string.IsNullOrEmpty(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!["token"]!.GetValue<string>()));
    }

    [Fact]
    public async Task DevToken_MintsAWorkingToken()
    {
        var (status, body, _) = await server.SendAsync(HttpMethod.Post, "/api/dev/token", body: """{"name": "Ada"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var token = body["data"]!["token"]!.GetValue<string>();
        var (list, _, _) = await server.SendAsync(HttpMethod.Get, "/api/labs/instances/list", token);
        Assert.Equal(HttpStatusCode.OK, list);
    }
}
