using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.VultrEmulator.Tests;

public sealed class VultrApiTests : IAsyncLifetime
{
    private VultrEmulatorApp _emulator = null!;
    private HttpClient _api = null!;

    public async Task InitializeAsync()
    {
        // Phases long enough that a poll every 50 ms sees each one even while the whole test suite loads both cores.
        _emulator = await VultrEmulatorApp.StartAsync(o =>
        {
            o.PendingSeconds = 1;
            o.BootSeconds = 1;
            o.InstallSeconds = 1;
            o.CloudInitSeconds = 0.3;
            o.RebootSeconds = 0.3;
        });
        _api = new HttpClient { BaseAddress = _emulator.ApiBase };
        _api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _emulator.ApiKey);
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _emulator.DisposeAsync();
    }

    private static string UserData(string script) => Convert.ToBase64String(Encoding.UTF8.GetBytes(script));

    private async Task<JsonObject> CreateAsync(string label, object? osId = null, string[]? tags = null, string script = "docker run -p 8080:80/tcp img")
    {
        using var response = await _api.PostAsJsonAsync("instances", new Dictionary<string, object?>
        {
            ["region"] = "ewr",
            ["plan"] = "vc2-1c-1gb",
            ["os_id"] = osId ?? 1743,
            ["label"] = label,
            ["tags"] = tags ?? ["labmanager"],
            ["user_data"] = UserData(script),
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!.AsObject();
    }

    private async Task<JsonObject> GetAsync(string id) =>
        (await _api.GetFromJsonAsync<JsonObject>($"instances/{id}"))!["instance"]!.AsObject();

    private static async Task<JsonObject> ErrorOf(HttpResponseMessage response) => (await response.Content.ReadFromJsonAsync<JsonObject>())!;

    private async Task<JsonObject> WaitForAsync(string id, Func<JsonObject, bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var vm = await GetAsync(id);
            if (condition(vm))
            {
                return vm;
            }

            await Task.Delay(50, cts.Token);
        }
    }

    [Fact]
    public async Task CreateInstance_ValidBody_Answers202WithVultrShape()
    {
        var vm = await CreateAsync("lab-a", osId: "1743");

        Assert.Equal(JsonValueKind.String, vm["id"]!.GetValueKind());
        Assert.True(Guid.TryParse(vm["id"]!.GetValue<string>(), out _));
        Assert.Equal("0.0.0.0", vm["main_ip"]!.GetValue<string>());
        // Vultr's create answer: pending / running / none.
        Assert.Equal("pending", vm["status"]!.GetValue<string>());
        Assert.Equal("running", vm["power_status"]!.GetValue<string>());
        Assert.Equal("none", vm["server_status"]!.GetValue<string>());
        Assert.Equal(1024, vm["ram"]!.GetValue<int>());
        Assert.Equal(25, vm["disk"]!.GetValue<int>());
        Assert.Equal(1, vm["vcpu_count"]!.GetValue<int>());
        Assert.Equal(1743, vm["os_id"]!.GetValue<int>());
        Assert.Equal("lab-a", vm["label"]!.GetValue<string>());
        Assert.Equal(["labmanager"], vm["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        // The account's offset, not always +00:00; the instant is now.
        var created = vm["date_created"]!.GetValue<string>();
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-05:00$", created);
        Assert.InRange(DateTimeOffset.Parse(created, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddSeconds(-10), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.False(string.IsNullOrEmpty(vm["default_password"]!.GetValue<string>()));
        foreach (var field in new[] { "os", "region", "plan", "allowed_bandwidth", "netmask_v4", "gateway_v4", "v6_main_ip", "v6_network", "v6_network_size", "hostname", "internal_ip", "kvm", "app_id", "image_id", "firewall_group_id", "features", "user_scheme" })
        {
            Assert.True(vm.ContainsKey(field), $"missing {field}");
        }

        Assert.False((await GetAsync(vm["id"]!.GetValue<string>())).ContainsKey("default_password"));
    }

    [Theory]
    [InlineData("""{"plan":"vc2-1c-1gb","os_id":1743}""", "Invalid region.")]
    [InlineData("""{"region":"ewr","plan":"nope","os_id":1743}""", "Invalid plan.")]
    [InlineData("""{"region":"ewr","plan":"vc2-1c-1gb"}""", "You must choose an OS (os_id), snapshot, image, app or ISO.")]
    [InlineData("""{"region":"sea","plan":"vc2-4c-8gb","os_id":1743}""", "Invalid plan chosen.")]
    [InlineData("""{"region":"ewr","plan":"vc2-1c-1gb","os_id":9999}""", "Invalid operating system.")]
    [InlineData("""{"region":"ewr","plan":"vc2-1c-1gb","image_id":"no-such-image"}""", "Invalid image_id.")]
    [InlineData("""{"region":"ewr","plan":"vc2-1c-1gb","app_id":12345}""", "Invalid app_id.")]
    [InlineData("""{"region":"ewr","plan":"vc2-1c-1gb","snapshot_id":"7c9a1e2b-0000-4000-8000-000000000000"}""", "Invalid snapshot_id.")]
    [InlineData("""{"region":"ewr","plan":"vc2-1c-1gb","os_id":1743,"image_id":"docker"}""", "Only one of os_id, snapshot_id, image_id, app_id or iso_id may be given, not os_id and image_id.")]
    [InlineData("""{"region":"ewr","plan":"vc2-1c-1gb","os_id":1743,"user_data":"not base64!"}""", "user_data must be base64 encoded.")]
    [InlineData("""{"region":""", "Invalid JSON body.")]
    public async Task CreateInstance_BadBody_Answers400WithError(string body, string error)
    {
        using var response = await _api.PostAsync("instances", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = await ErrorOf(response);
        Assert.Equal(error, json["error"]!.GetValue<string>());
        Assert.Equal(400, json["status"]!.GetValue<int>());
        Assert.Empty((await _emulator.InspectAsync()).Vms);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong")]
    public async Task AnyCall_BadKey_Answers401(string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_emulator.ApiBase, "instances"));
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var plain = new HttpClient();
        using var response = await plain.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("""{"error":"Invalid API token.","status":401}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Lifecycle_PendingToOk_ThenLabAnswersOnLoopback()
    {
        var id = (await CreateAsync("lab-life"))["id"]!.GetValue<string>();

        var locked = await WaitForAsync(id, v => v["status"]!.GetValue<string>() == "active");
        Assert.Equal("stopped", locked["power_status"]!.GetValue<string>());
        Assert.Equal("locked", locked["server_status"]!.GetValue<string>());
        Assert.StartsWith("127.", locked["main_ip"]!.GetValue<string>(), StringComparison.Ordinal);
        var booting = await WaitForAsync(id, v => v["power_status"]!.GetValue<string>() == "running");
        Assert.Equal("installingbooting", booting["server_status"]!.GetValue<string>());
        var ok = await WaitForAsync(id, v => v["server_status"]!.GetValue<string>() == "ok");
        var ip = ok["main_ip"]!.GetValue<string>();

        using var http = new HttpClient();
        var page = await RetryAsync(() => http.GetStringAsync($"http://{ip}:8080/"));
        Assert.Contains(id, page, StringComparison.Ordinal);

        using var deleted = await _api.DeleteAsync($"instances/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var again = await _api.DeleteAsync($"instances/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        using var gone = await _api.GetAsync($"instances/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(404, (await ErrorOf(gone))["status"]!.GetValue<int>());
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync($"http://{ip}:8080/"));
    }

    [Fact]
    public async Task RebootHaltStartReinstall_ChangeStateAndLab()
    {
        var id = (await CreateAsync("lab-power"))["id"]!.GetValue<string>();
        await WaitForAsync(id, v => v["server_status"]!.GetValue<string>() == "ok");

        using (var halt = await _api.PostAsync($"instances/{id}/halt", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, halt.StatusCode);
        }

        Assert.Equal("stopped", (await GetAsync(id))["power_status"]!.GetValue<string>());
        using (var start = await _api.PostAsync($"instances/{id}/start", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, start.StatusCode);
        }

        // A start after a halt boots at once.
        Assert.Equal("installingbooting", (await GetAsync(id))["server_status"]!.GetValue<string>());
        await WaitForAsync(id, v => v["server_status"]!.GetValue<string>() == "ok");
        using (var reboot = await _api.PostAsync($"instances/{id}/reboot", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, reboot.StatusCode);
        }

        using var reinstall = await _api.PostAsJsonAsync($"instances/{id}/reinstall", new { hostname = "fresh" });
        Assert.Equal(HttpStatusCode.Accepted, reinstall.StatusCode);
        var vm = (await reinstall.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!;
        Assert.Equal("fresh", vm["hostname"]!.GetValue<string>());
        Assert.Equal("locked", vm["server_status"]!.GetValue<string>());
        using var missing = await _api.PostAsync($"instances/{Guid.NewGuid()}/reboot", null);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task ListInstances_Paged_FollowsCursorsAndFilters()
    {
        for (var i = 0; i < 5; i++)
        {
            await CreateAsync($"lab-{i}");
        }

        await CreateAsync("other", tags: ["someone-else"]);
        var labels = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = (await _api.GetFromJsonAsync<JsonObject>($"instances?tag=labmanager&per_page=2{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}"))!;
            labels.AddRange(page["instances"]!.AsArray().Select(v => v!["label"]!.GetValue<string>()));
            Assert.Equal(5, page["meta"]!["total"]!.GetValue<int>());
            cursor = page["meta"]!["links"]!["next"]!.GetValue<string>();
            pages++;
        }
        while (cursor != "");

        Assert.Equal(3, pages);
        Assert.Equal(["lab-0", "lab-1", "lab-2", "lab-3", "lab-4"], labels);
        var byLabel = (await _api.GetFromJsonAsync<JsonObject>("instances?label=lab-3"))!;
        Assert.Equal("lab-3", Assert.Single(byLabel["instances"]!.AsArray())!["label"]!.GetValue<string>());
        using var bad = await _api.GetAsync("instances?cursor=garbage");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Firewalls_GroupsAndRules_RoundTrip()
    {
        using var created = await _api.PostAsJsonAsync("firewalls", new { description = "lab-x access" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var group = (await created.Content.ReadFromJsonAsync<JsonObject>())!["firewall_group"]!;
        var id = group["id"]!.GetValue<string>();
        Assert.Equal("lab-x access", group["description"]!.GetValue<string>());
        Assert.Equal(0, group["rule_count"]!.GetValue<int>());

        using var rule = await _api.PostAsJsonAsync($"firewalls/{id}/rules", new { ip_type = "v4", protocol = "tcp", subnet = "198.51.100.7", subnet_size = 32, port = "8080", notes = "learner" });
        Assert.Equal(HttpStatusCode.Created, rule.StatusCode);
        Assert.Equal("8080", (await rule.Content.ReadFromJsonAsync<JsonObject>())!["firewall_rule"]!["port"]!.GetValue<string>());
        using var badRule = await _api.PostAsJsonAsync($"firewalls/{id}/rules", new { ip_type = "v5", protocol = "tcp", subnet = "x", subnet_size = 32 });
        Assert.Equal(HttpStatusCode.BadRequest, badRule.StatusCode);

        var rules = (await _api.GetFromJsonAsync<JsonObject>($"firewalls/{id}/rules"))!;
        Assert.Single(rules["firewall_rules"]!.AsArray());
        Assert.Equal(1, (await _api.GetFromJsonAsync<JsonObject>($"firewalls/{id}"))!["firewall_group"]!["rule_count"]!.GetValue<int>());
        using var deleted = await _api.DeleteAsync($"firewalls/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await _api.GetAsync($"firewalls/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task PlansAndRegions_Listed()
    {
        var plans = (await _api.GetFromJsonAsync<JsonObject>("plans"))!["plans"]!.AsArray();
        var small = plans.Single(p => p!["id"]!.GetValue<string>() == "vc2-1c-1gb")!;
        Assert.Equal(0.007m, small["hourly_cost"]!.GetValue<decimal>());
        Assert.Equal(5m, small["monthly_cost"]!.GetValue<decimal>());
        var regions = (await _api.GetFromJsonAsync<JsonObject>("regions"))!["regions"]!.AsArray().Select(r => r!["id"]!.GetValue<string>());
        Assert.Equal(["ewr", "ord", "dfw", "sea", "lax", "atl", "sjc", "ams", "lhr", "fra"], regions);
    }

    [Fact]
    public async Task Faults_RateLimit_Answers429WithRetryAfter()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { RateLimitPerSecond = 3 });
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 10; i++)
        {
            var response = await _api.GetAsync("instances");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited ??= response;
            }
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.Equal(TimeSpan.FromSeconds(1), limited!.Headers.RetryAfter!.Delta);
        Assert.Equal(429, (await ErrorOf(limited))["status"]!.GetValue<int>());
        Assert.True((await _emulator.InspectAsync()).Requests["answered_429"] >= 1);
    }

    [Fact]
    public async Task Faults_ErrorRateOne_Answers500()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { ErrorRate = 1 });
        using var response = await _api.GetAsync("regions");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(500, (await ErrorOf(response))["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task Faults_Seeded_StrikeTheSameCallsAgain()
    {
        async Task<string> PatternAsync(int seed)
        {
            await _emulator.SetFaultsAsync(new FaultSettings { ErrorRate = 0.5, Seed = seed, RateLimitPerSecond = 0 });
            var pattern = "";
            for (var i = 0; i < 24; i++)
            {
                using var response = await _api.GetAsync("regions");
                pattern += response.StatusCode == HttpStatusCode.InternalServerError ? 'x' : '.';
            }

            return pattern;
        }

        var first = await PatternAsync(7);

        Assert.Equal(first, await PatternAsync(7));
        Assert.Contains("x", first, StringComparison.Ordinal);
        Assert.Contains(".", first, StringComparison.Ordinal);
        Assert.NotEqual(first, await PatternAsync(8));
    }

    [Fact]
    public async Task Faults_LostCreateAnswer_VmExistsButClientGetsNoAnswer()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { LoseCreateAnswerRate = 1 });
        await Assert.ThrowsAsync<HttpRequestException>(() => _api.PostAsJsonAsync("instances", new { region = "ewr", plan = "vc2-1c-1gb", os_id = 1743, label = "lab-lost" }));
        var inspection = await _emulator.InspectAsync();
        Assert.Single(inspection.Vms, v => v.Label == "lab-lost");
        Assert.Equal(1, inspection.Creates["lab-lost"]);
    }

    [Fact]
    public async Task Faults_Stuck_StaysInstallingBooting()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { StuckRate = 1 });
        var id = (await CreateAsync("lab-stuck"))["id"]!.GetValue<string>();
        await WaitForAsync(id, v => v["server_status"]!.GetValue<string>() == "installingbooting");
        // Twice as long as the install phase, after which a healthy VM would be ok.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var vm = await GetAsync(id);
        Assert.Equal("installingbooting", vm["server_status"]!.GetValue<string>());
        Assert.False((await _emulator.InspectAsync()).Vms.Single().LabUp);
    }

    [Fact]
    public async Task Faults_Latency_Delays()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { LatencyMs = 300 });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var response = await _api.GetAsync("regions");
        Assert.True(clock.ElapsedMilliseconds >= 290, $"{clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task AdminFaults_OutOfRange_Answers400()
    {
        using var admin = new HttpClient { BaseAddress = _emulator.Root };
        using var response = await admin.PutAsJsonAsync("admin/faults", new { error_rate = 2 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(0, (await admin.GetFromJsonAsync<JsonObject>("admin/faults"))!["error_rate"]!.GetValue<double>());
    }

    [Fact]
    public async Task Inspect_CountsCreatesDeletesAndCalls()
    {
        var id = (await CreateAsync("lab-count"))["id"]!.GetValue<string>();
        (await _api.DeleteAsync($"instances/{id}")).Dispose();

        var inspection = await _emulator.InspectAsync();
        Assert.Empty(inspection.Vms);
        Assert.Equal(1, inspection.Creates["lab-count"]);
        Assert.Equal(1, inspection.Deletes["lab-count"]);
        Assert.Equal(id, Assert.Single(inspection.Deleted).Id);
        Assert.Equal(1, inspection.Requests["create"]);
        Assert.Equal(1, inspection.Requests["delete"]);
        Assert.True(inspection.PeakRequestsPerSecond >= 1);
    }

    [Fact]
    public async Task PhoneHome_LoopbackUrlInUserData_PostedOnceLabIsUp()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await CreateAsync("lab-home", script: $"docker run -p 8080:80/tcp img\ncurl -fsS -X POST --retry 10 'http://127.0.0.1:{port}/ready/abc' || true\n");

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var client = await listener.AcceptTcpClientAsync(cts.Token);
        var buffer = new byte[1024];
        var read = await client.GetStream().ReadAsync(buffer, cts.Token);
        Assert.StartsWith("POST /ready/abc HTTP/1.1", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        Assert.True((await _emulator.InspectAsync()).Vms.Single().LabUp);
    }

    [Fact]
    public async Task CreateInstance_MarketplaceImage_BootsFromIt_AndImagesAreListed()
    {
        using var response = await _api.PostAsJsonAsync("instances", new { region = "ewr", plan = "vc2-1c-1gb", image_id = "docker", label = "lab-docker" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var vm = (await response.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!;
        Assert.Equal("docker", vm["image_id"]!.GetValue<string>());

        var images = (await _api.GetFromJsonAsync<JsonObject>("applications?type=marketplace"))!["applications"]!.AsArray();
        Assert.Equal("docker", Assert.Single(images)!["image_id"]!.GetValue<string>());
        var os = (await _api.GetFromJsonAsync<JsonObject>("os"))!["os"]!.AsArray();
        Assert.Contains(os, o => o!["id"]!.GetValue<int>() == 1743);
        var plans = (await _api.GetFromJsonAsync<JsonObject>("plans"))!["plans"]!.AsArray();
        Assert.DoesNotContain("sea", plans.Single(p => p!["id"]!.GetValue<string>() == "vc2-4c-8gb")!["locations"]!.AsArray().Select(l => l!.GetValue<string>()));
    }

    [Fact]
    public async Task Delete_WhileLocked_Answers500WithVultrsText_ThenSucceedsOnceBooted()
    {
        var id = (await CreateAsync("lab-locked"))["id"]!.GetValue<string>();
        await WaitForAsync(id, v => v["server_status"]!.GetValue<string>() == "locked");

        using var refused = await _api.DeleteAsync($"instances/{id}");
        Assert.Equal(HttpStatusCode.InternalServerError, refused.StatusCode);
        Assert.Equal("""{"error":"Unable to destroy server: Unable to remove VM: Server is currently locked","status":500}""", await refused.Content.ReadAsStringAsync());
        Assert.Single((await _emulator.InspectAsync()).Vms);

        await WaitForAsync(id, v => v["server_status"]!.GetValue<string>() != "locked");
        using var deleted = await _api.DeleteAsync($"instances/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(1, (await _emulator.InspectAsync()).Requests["refused_locked"]);
    }

    [Theory]
    [InlineData("exact", new[] { "lab-1" })]
    [InlineData("contains", new[] { "lab-1", "lab-1-2", "xlab-1" })]
    [InlineData("ignore", new[] { "lab-1", "lab-1-2", "xlab-1", "lab-1-untagged" })]
    public async Task ListInstances_FilterFaults_AnswerMoreThanAsked(string filters, string[] expected)
    {
        await CreateAsync("lab-1");
        await CreateAsync("lab-1-2");
        await CreateAsync("xlab-1", tags: ["labmanager-other"]);
        await CreateAsync("lab-1-untagged", tags: []);
        await _emulator.SetFaultsAsync(new FaultSettings { Filters = filters });

        var page = (await _api.GetFromJsonAsync<JsonObject>("instances?tag=labmanager&label=lab-1"))!;

        Assert.Equal(expected, page["instances"]!.AsArray().Select(v => v!["label"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Delete_DeletedVmStaysListedForAWhile()
    {
        await using var own = await OwnEmulator.StartAsync(o => (o.PendingSeconds, o.BootSeconds, o.DeletedVisibleSeconds) = (0, 0, 1));
        var (emulator, api) = (own.Emulator, own.Api);
        using var created = await api.PostAsJsonAsync("instances", new { region = "ewr", plan = "vc2-1c-1gb", os_id = 1743, label = "lab-dying" });
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!["id"]!.GetValue<string>();

        using (var deleted = await api.DeleteAsync($"instances/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        Assert.Single((await api.GetFromJsonAsync<JsonObject>("instances?label=lab-dying"))!["instances"]!.AsArray());
        using (var get = await api.GetAsync($"instances/{id}"))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        }

        Assert.Empty((await emulator.InspectAsync()).Vms);
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        Assert.Empty((await api.GetFromJsonAsync<JsonObject>("instances?label=lab-dying"))!["instances"]!.AsArray());
        using var gone = await api.GetAsync($"instances/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Reboot_StaysOkForAMoment_ThenBootsAgainWithTheNextBootNumber()
    {
        await using var own = await OwnEmulator.StartAsync(o =>
            (o.PendingSeconds, o.BootSeconds, o.InstallSeconds, o.CloudInitSeconds, o.RebootOkSeconds, o.RebootSeconds) = (0, 0, 0, 0.2, 1, 1));
        var (emulator, api) = (own.Emulator, own.Api);
        using var created = await api.PostAsJsonAsync("instances", new { region = "ewr", plan = "vc2-1c-1gb", os_id = 1743, label = "lab-reboot", user_data = UserData("docker run -p 8080:80/tcp img") });
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!["id"]!.GetValue<string>();
        async Task<InspectedVm> Vm() => (await emulator.InspectAsync()).Vms.Single();
        await ProcessWait(async () => (await Vm()).LabUp);
        Assert.Equal(1, (await Vm()).Boot);

        (await api.PostAsync($"instances/{id}/reboot", null)).Dispose();

        // Right after the 204: still ok, the previous boot's lab still answering.
        var right = await Vm();
        Assert.Equal(("ok", true, 1), (right.ServerStatus, right.LabUp, right.Boot));
        await ProcessWait(async () => (await Vm()).ServerStatus == "installingbooting");
        await ProcessWait(async () => !(await Vm()).LabUp);
        Assert.Equal(2, (await Vm()).Boot);
        await ProcessWait(async () => (await Vm()).LabUp);
        Assert.Equal(2, (await Vm()).Boot);
    }

    [Fact]
    public async Task PhoneHome_UserDataRunsOnce_PerBootScriptReportsEveryBootWithItsNumber()
    {
        await using var own = await OwnEmulator.StartAsync(o =>
            (o.PendingSeconds, o.BootSeconds, o.InstallSeconds, o.CloudInitSeconds, o.RebootOkSeconds, o.RebootSeconds) = (0, 0, 0, 0.2, 0.2, 0.2));
        var (emulator, api) = (own.Emulator, own.Api);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var onceOnly = $"docker run -p 8080:80/tcp img\ncurl -fsS -X POST 'http://127.0.0.1:{port}/once' || true\n";
        var perBoot = "docker run -p 8081:80/tcp img\ncat > /var/lib/cloud/scripts/per-boot/ready <<'END'\n#!/bin/bash\nboot=1\n" +
            $"curl -fsS -X POST 'http://127.0.0.1:{port}/boot?n='\"$boot\" || true\nEND\n/var/lib/cloud/scripts/per-boot/ready\n";
        var ids = new List<string>();
        foreach (var (label, script) in new[] { ("lab-once", onceOnly), ("lab-per-boot", perBoot) })
        {
            using var created = await api.PostAsJsonAsync("instances", new { region = "ewr", plan = "vc2-1c-1gb", os_id = 1743, label, user_data = UserData(script) });
            ids.Add((await created.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!["id"]!.GetValue<string>());
        }

        var posts = new List<string>();
        async Task ReceiveAsync(int count)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            for (var i = 0; i < count; i++)
            {
                using var client = await listener.AcceptTcpClientAsync(cts.Token);
                var buffer = new byte[1024];
                var read = await client.GetStream().ReadAsync(buffer, cts.Token);
                posts.Add(Encoding.ASCII.GetString(buffer, 0, read).Split(' ')[1]);
                await client.GetStream().WriteAsync("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), cts.Token);
            }
        }

        await ReceiveAsync(2);
        Assert.Equal(["/boot?n=1", "/once"], posts.Order());
        foreach (var id in ids)
        {
            (await api.PostAsync($"instances/{id}/reboot", null)).Dispose();
        }

        await ReceiveAsync(1);
        Assert.Equal("/boot?n=2", posts[^1]);
        await ProcessWait(async () => (await emulator.InspectAsync()).Vms.All(v => v.LabUp && v.Boot == 2));
        await Task.Delay(500);
        Assert.False(listener.Pending(), "the user_data's own phone-home ran again after a reboot");
    }

    [Fact]
    public async Task Faults_KeyRestrictedToOtherIps_Answers401UnauthorizedIpAddress()
    {
        await _emulator.SetFaultsAsync(new FaultSettings { AllowedIps = "203.0.113.7, 198.51.100.1" });
        using var refused = await _api.GetAsync("instances");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("""{"error":"Unauthorized IP address: 127.0.0.1","status":401}""", await refused.Content.ReadAsStringAsync());

        await _emulator.SetFaultsAsync(new FaultSettings { AllowedIps = "127.0.0.1" });
        using var allowed = await _api.GetAsync("instances");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    /// <summary>An emulator of the test's own, with settings of its own, and a client of its API.</summary>
    [Fact]
    public async Task VultrProfile_AMinuteToOkAndAMinuteOfCloudInit_ANamedTimingWins_AnUnknownProfileRefused()
    {
        await using var app = VultrEmulatorApp.Build(["--urls", "http://127.0.0.1:0", "--Emulator:Profile=vultr", "--Emulator:CloudInitSeconds=3"]);
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmulatorOptions>>().Value;
        Assert.Equal((60.0, 3.0, 30.0), (options.PendingSeconds + options.BootSeconds + options.InstallSeconds, options.CloudInitSeconds, options.BootSeconds));

        await using var unknown = VultrEmulatorApp.Build(["--urls", "http://127.0.0.1:0", "--Emulator:Profile=slow"]);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => unknown.StartAsync());
        Assert.Equal("Emulator:Profile must be fast or vultr, not 'slow'", refused.Message);
    }

    private sealed class OwnEmulator(VultrEmulatorApp emulator) : IAsyncDisposable
    {
        public VultrEmulatorApp Emulator { get; } = emulator;

        public HttpClient Api { get; } = new() { BaseAddress = emulator.ApiBase, DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", emulator.ApiKey) } };

        public static async Task<OwnEmulator> StartAsync(Action<EmulatorOptions> configure) => new(await VultrEmulatorApp.StartAsync(configure));

        public async ValueTask DisposeAsync()
        {
            Api.Dispose();
            await Emulator.DisposeAsync();
        }
    }

    private static async Task ProcessWait(Func<Task<bool>> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            await Task.Delay(25, cts.Token);
        }
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (HttpRequestException) when (attempt < 40)
            {
                await Task.Delay(50);
            }
        }
    }
}
