using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LabManager.Core.Instances;
using LabManager.Core.Labs;
using LabManager.Core.Ports;
using LabManager.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LabManager.Server.Tests;

/// <summary>A Server whose catalog file is the only source of labs.</summary>
public sealed class FileModeServer : ServerFixture
{
    protected override IEnumerable<string> Settings => [.. base.Settings, "Catalog:Mode=file"];
}

/// <summary>Operators manage the catalog through /api/admin/labs: checked changes, versions that running instances keep, export.</summary>
public sealed class CatalogTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly Guid AdminId = Guid.NewGuid();
    private readonly string _admin = server.Token(AdminId, admin: true);

    private const string Flag = "FLAG{catalog-one}";

    /// <summary>A small lab, as an operator would send it; <paramref name="edit"/> changes it first.</summary>
    private static JsonObject NewLab(string slug, Action<JsonObject>? edit = null)
    {
        var lab = JsonNode.Parse($$$"""
            {"slug": "{{{slug}}}", "name": "Catalog {{{slug}}}", "category": "web", "timeoutMinutes": 30, "plan": "vc2-1c-1gb", "region": "ewr",
             "containerConfig": {"containers": [{"name": "web", "image": "nginx:1.25", "memoryMb": 256, "cpus": 1, "ports": [{"hostPort": 8080, "containerPort": 80}]}]},
             "exercises": [{"id": "one", "title": "One", "points": 10, "hints": [{"id": "h1", "text": "Look", "cost": 2}],
                            "check": {"flagSha256": "{{{Flags.Hash(Flag)}}}"}}]}
            """)!.AsObject();
        edit?.Invoke(lab);
        return lab;
    }

    private Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> Send(HttpMethod method, string path, JsonNode? body = null, string? token = null) =>
        server.SendAsync(method, path, token ?? _admin, body?.ToJsonString());

    private async Task<string> CreateAsync(JsonObject lab)
    {
        var (status, body, _) = await Send(HttpMethod.Post, "/api/admin/labs", lab);
        Assert.True(status == HttpStatusCode.Created, body.ToJsonString());
        Assert.Equal(1, body["data"]!["version"]!.GetValue<int>());
        return body["data"]!["id"]!.GetValue<string>();
    }

    /// <summary>The user_data the cloud holds for the instance's VM, read back as Vultr gives it.</summary>
    private async Task<string> UserDataAsync(string instanceId)
    {
        var vm = (await server.Emulator.InspectAsync()).Vms.Single(v => v.Label == LabInstance.VmLabel(Guid.Parse(instanceId), 1));
        using var http = new HttpClient { BaseAddress = server.Emulator.ApiBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Emulator.ApiKey);
        var answer = JsonNode.Parse(await http.GetStringAsync($"instances/{vm.Id}/user-data"))!;
        return Encoding.UTF8.GetString(Convert.FromBase64String(answer["user_data"]!["data"]!.GetValue<string>()));
    }

    private async Task<int> SubmitAsync(string labId, string token)
    {
        var (status, body, _) = await server.SendAsync(HttpMethod.Post, $"/api/labs/{labId}/exercises/one/submit", token, $$"""{"answer": "{{Flag}}"}""");
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        return body["data"]!["pointsAwarded"]!.GetValue<int>();
    }

    [Fact]
    public async Task Change_RunningInstanceKeepsItsVersion_ANewStartGetsTheNewOne_RollBack()
    {
        var id = await CreateAsync(NewLab("catalog-versions"));
        var first = server.Token(Guid.NewGuid());
        var old = await server.StartRunningAsync(id, first);
        Assert.Contains("nginx:1.25", await UserDataAsync(old), StringComparison.Ordinal);

        var changed = NewLab("catalog-versions", l =>
        {
            l["containerConfig"]!["containers"]![0]!["image"] = "nginx:1.27";
            l["exercises"]![0]!["points"] = 40;
        });
        var (status, saved, _) = await Send(HttpMethod.Put, $"/api/admin/labs/{id}", changed);
        Assert.True(status == HttpStatusCode.OK, saved.ToJsonString());
        Assert.Equal(2, saved["data"]!["version"]!.GetValue<int>());
        Assert.Equal(["containerConfig.containers[0].image", "exercises[0].points"], saved["data"]!["changes"]!.AsArray().Select(c => c!.GetValue<string>()));

        // The same body again changes nothing: no new version.
        Assert.Equal(2, (await Send(HttpMethod.Put, $"/api/admin/labs/{id}", changed)).Body["data"]!["version"]!.GetValue<int>());

        // The running instance keeps version 1: its VM as it was, its exercise's points as they were.
        Assert.Equal(10, await SubmitAsync(id, first));
        var second = server.Token(Guid.NewGuid());
        var fresh = await server.StartRunningAsync(id, second);
        Assert.Contains("nginx:1.27", await UserDataAsync(fresh), StringComparison.Ordinal);
        Assert.DoesNotContain("nginx:1.25", await UserDataAsync(fresh), StringComparison.Ordinal);
        Assert.Equal(40, await SubmitAsync(id, second));
        Assert.Equal((1, 2), (await server.Db.ScalarAsync<int>($"SELECT lab_version FROM lab_instances WHERE id = '{old}'"),
            await server.Db.ScalarAsync<int>($"SELECT lab_version FROM lab_instances WHERE id = '{fresh}'")));

        var versions = (await Send(HttpMethod.Get, $"/api/admin/labs/{id}/versions")).Body["data"]!.AsArray();
        Assert.Equal([2, 1], versions.Select(v => v!["version"]!.GetValue<int>()));
        Assert.All(versions, v => Assert.Contains(AdminId.ToString(), v!["changedBy"]!.GetValue<string>(), StringComparison.Ordinal));
        var v1 = (await Send(HttpMethod.Get, $"/api/admin/labs/{id}/versions/1")).Body["data"]!;
        Assert.Equal("nginx:1.25", v1["lab"]!["containerConfig"]!["containers"]![0]!["image"]!.GetValue<string>());

        var (rolledStatus, rolled, _) = await Send(HttpMethod.Post, $"/api/admin/labs/{id}/versions/1/rollback");
        Assert.True(rolledStatus == HttpStatusCode.OK, rolled.ToJsonString());
        Assert.Equal(3, rolled["data"]!["version"]!.GetValue<int>());
        var now = (await Send(HttpMethod.Get, $"/api/admin/labs/{id}")).Body["data"]!;
        Assert.Equal(("nginx:1.25", 10, 3), (now["lab"]!["containerConfig"]!["containers"]![0]!["image"]!.GetValue<string>(),
            now["lab"]!["exercises"]![0]!["points"]!.GetValue<int>(), now["summary"]!["version"]!.GetValue<int>()));
        Assert.Equal("rolled back to version 1", (await Send(HttpMethod.Get, $"/api/admin/labs/{id}/versions")).Body["data"]![0]!["note"]!.GetValue<string>());

        await server.StopAndWaitAsync(old, first);
        await server.StopAndWaitAsync(fresh, second);
        await server.AssertNoVmLeftAsync([old, fresh]);
    }

    public static TheoryData<string, string> Rules => new()
    {
        { """{"containerConfig": {"containers": [{"name": "web", "image": "Nginx Bad", "ports": [{"hostPort": 8080, "containerPort": 80}]}]}}""", "containerConfig.containers[0].image:" },
        { """{"containerConfig": {"containers": [{"name": "web", "image": "nginx", "ports": [{"hostPort": 8080, "containerPort": 80}, {"hostPort": 8080, "containerPort": 81}]}]}}""", "containerConfig.containers[0].ports[1].hostPort: 8080/tcp is published twice" },
        { """{"containerConfig": {"containers": [{"name": "web", "image": "nginx", "ports": [{"hostPort": 70000, "containerPort": 80}]}]}}""", "containerConfig.containers[0].ports[0].hostPort: 70000 must be 1..65535" },
        { """{"containerConfig": {"containers": [{"name": "web", "image": "nginx", "capabilities": ["SYS_ADMIN"]}]}}""", "containerConfig.containers[0].capabilities[0]: 'SYS_ADMIN' is not allowed" },
        { """{"containerConfig": {"containers": [{"name": "web", "image": "nginx", "memoryMb": 1024}]}}""", "containerConfig.containers: memoryMb adds up to 1024 MB; plan vc2-1c-1gb has 1024 MB" },
        { """{"containerConfig": {"containers": [{"name": "web", "image": "nginx", "cpus": 2}]}}""", "containerConfig.containers[0].cpus: 2 is more than the 1 vCPUs of plan vc2-1c-1gb" },
        { """{"containerConfig": {"containers": [{"name": "web", "image": "nginx", "pidsLimit": 8}]}}""", "containerConfig.containers[0].pidsLimit: must be 16..32768" },
        { """{"exercises": [{"id": "one", "title": "One", "points": 5}, {"id": "one", "title": "Again", "points": 5}]}""", "exercises[1].id: 'one' is used twice" },
        { """{"exercises": [{"id": "one", "title": "One", "points": 5, "hints": [{"id": "h1", "text": "t", "cost": 6}]}]}""", "exercises[0].hints[0].cost: 6 must be from 0 to the exercise's points (5)" },
        { """{"plan": "vc9-nothing"}""", "plan: 'vc9-nothing' is not a plan of the cloud" },
        { """{"region": "xyz"}""", "region: 'xyz' is not a region of the cloud" },
        { """{"plan": "vc2-4c-8gb", "region": "sea"}""", "plan: 'vc2-4c-8gb' is not sold in region 'sea'" },
        { """{"timeoutMinutes": "long"}""", "timeoutMinutes: has the wrong type or value" },
        { """{"colour": "red"}""", "colour: unknown field" },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public async Task EachRule_RefusedWithItsFieldPath_NothingSaved(string change, string problem)
    {
        var slug = $"catalog-rule-{Guid.NewGuid():N}"[..30];
        var lab = NewLab(slug);
        foreach (var (key, value) in JsonNode.Parse(change)!.AsObject())
        {
            lab[key] = value?.DeepClone();
        }

        var (status, refused, _) = await Send(HttpMethod.Post, "/api/admin/labs", lab);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(refused["errors"]!.AsArray(), e => e!.GetValue<string>().StartsWith(problem, StringComparison.Ordinal));
        Assert.Equal(0L, await server.Db.ScalarAsync<long>($"SELECT count(*) FROM labs WHERE slug = '{slug}'"));

        // The dry run names the same problem.
        var (_, dry, _) = await Send(HttpMethod.Post, "/api/admin/labs/validate", lab);
        Assert.False(dry["data"]!["valid"]!.GetValue<bool>());
        Assert.Contains(dry["data"]!["problems"]!.AsArray(), e => e!.GetValue<string>().StartsWith(problem, StringComparison.Ordinal));
    }

    [Fact]
    public async Task DryRun_ReturnsTheRenderedUserData_SavesNothing()
    {
        var before = await server.Db.ScalarAsync<long>("SELECT count(*) FROM labs");
        var (status, body, _) = await Send(HttpMethod.Post, "/api/admin/labs/validate", NewLab("catalog-dry-run"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body["data"]!["valid"]!.GetValue<bool>(), body.ToJsonString());
        var userData = body["data"]!["userData"]!.GetValue<string>();
        Assert.StartsWith("#!/bin/bash", userData, StringComparison.Ordinal);
        Assert.Contains("'nginx:1.25'", userData, StringComparison.Ordinal);
        Assert.Contains("--memory", userData, StringComparison.Ordinal);
        Assert.Equal(before, await server.Db.ScalarAsync<long>("SELECT count(*) FROM labs"));
    }

    [Fact]
    public async Task Export_ThenImport_GivesTheSameCatalog_InJsonAndYaml()
    {
        await CreateAsync(NewLab("catalog-export", l => l["description"] = "yes\nno: \"quoted\" 1.0"));
        var stored = (await server.Services.GetRequiredService<ILabCatalogStore>().ListAllAsync()).Select(e => e.Lab).OrderBy(l => l.Slug, StringComparer.Ordinal).ToList();
        foreach (var format in new[] { "json", "yaml" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/admin/labs/export?format={format}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _admin);
            using var response = await server.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"application/{format}", response.Content.Headers.ContentType!.MediaType);
            var path = Path.Combine(Path.GetTempPath(), $"labs-{Guid.NewGuid():N}.{format}");
            await File.WriteAllTextAsync(path, await response.Content.ReadAsStringAsync());
            var imported = LabDocument.ReadFile(path, new LabDefaults());
            File.Delete(path);
            Assert.Equal(stored.Select(l => LabDocument.ToJson(l).ToJsonString()), imported.Select(l => LabDocument.ToJson(l).ToJsonString()));
        }
    }

    [Fact]
    public async Task Delete_WhileAnInstanceIsLive_OnlyDeactivates_ThenDeletes()
    {
        var id = await CreateAsync(NewLab("catalog-delete"));
        var learner = server.Token(Guid.NewGuid());
        var instance = await server.StartRunningAsync(id, learner);

        var (status, kept, _) = await Send(HttpMethod.Delete, $"/api/admin/labs/{id}");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal((false, 1), (kept["data"]!["deleted"]!.GetValue<bool>(), kept["data"]!["liveInstances"]!.GetValue<int>()));
        Assert.Equal(HttpStatusCode.NotFound, (await server.StartAsync(id, server.Token(Guid.NewGuid()))).Status);
        // The running lab is not touched: its learner still answers its exercises.
        Assert.Equal(10, await SubmitAsync(id, learner));

        await server.StopAndWaitAsync(instance, learner);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Delete, $"/api/admin/labs/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, $"/api/admin/labs/{id}")).Status);
        Assert.DoesNotContain((await Send(HttpMethod.Get, "/api/admin/labs")).Body["data"]!.AsArray(), l => l!["id"]!.GetValue<string>() == id);
    }

    [Fact]
    public async Task Deactivate_HidesTheLabFromLearners_Activate_BringsItBack()
    {
        var id = await CreateAsync(NewLab("catalog-activate"));
        var (status, off, _) = await Send(HttpMethod.Post, $"/api/admin/labs/{id}/deactivate");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(off["data"]!["summary"]!["isActive"]!.GetValue<bool>());
        Assert.DoesNotContain((await server.SendAsync(HttpMethod.Get, "/api/labs")).Body["data"]!.AsArray(), l => l!["id"]!.GetValue<string>() == id);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/api/admin/labs/{id}/activate")).Status);
        Assert.Contains((await server.SendAsync(HttpMethod.Get, "/api/labs")).Body["data"]!.AsArray(), l => l!["id"]!.GetValue<string>() == id);
        var listed = (await Send(HttpMethod.Get, "/api/admin/labs")).Body["data"]!.AsArray().Single(l => l!["id"]!.GetValue<string>() == id)!;
        Assert.Equal((true, 1, 0), (listed["isActive"]!.GetValue<bool>(), listed["version"]!.GetValue<int>(), listed["liveInstances"]!.GetValue<int>()));
    }

    [Fact]
    public async Task ALearner_IsRefused403_AnUnknownLab_404()
    {
        var learner = server.Token(Guid.NewGuid());
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/api/admin/labs"), (HttpMethod.Post, "/api/admin/labs"), (HttpMethod.Get, "/api/admin/labs/export"),
            (HttpMethod.Put, $"/api/admin/labs/{ServerFixture.DvwaLab}"), (HttpMethod.Delete, $"/api/admin/labs/{ServerFixture.DvwaLab}"),
            (HttpMethod.Post, $"/api/admin/labs/{ServerFixture.DvwaLab}/deactivate"), (HttpMethod.Post, "/api/admin/labs/validate") })
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await Send(method, path, NewLab("catalog-learner"), learner)).Status);
        }

        var unknown = Guid.NewGuid();
        foreach (var (method, path) in new[] { (HttpMethod.Get, $"/api/admin/labs/{unknown}"), (HttpMethod.Put, $"/api/admin/labs/{unknown}"),
            (HttpMethod.Delete, $"/api/admin/labs/{unknown}"), (HttpMethod.Post, $"/api/admin/labs/{unknown}/activate"), (HttpMethod.Get, $"/api/admin/labs/{unknown}/versions"),
            (HttpMethod.Post, $"/api/admin/labs/{unknown}/versions/1/rollback") })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await Send(method, path, NewLab("catalog-unknown"))).Status);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, $"/api/admin/labs/{ServerFixture.DvwaLab}/versions/99")).Status);
    }
}

/// <summary>With <c>Catalog:Mode=file</c>, the file is the only source: every change through the API is refused, reading is not.</summary>
public sealed class FileModeCatalogTests(FileModeServer server) : IClassFixture<FileModeServer>
{
    [Fact]
    public async Task Writes_Refused409_NamingTheFile_ReadsAndTheDryRunWork()
    {
        var admin = server.Token(Guid.NewGuid(), admin: true);
        var lab = (await server.SendAsync(HttpMethod.Get, $"/api/admin/labs/{ServerFixture.DvwaLab}", admin)).Body["data"]!["lab"]!.ToJsonString();
        foreach (var (method, path) in new[] { (HttpMethod.Post, "/api/admin/labs"), (HttpMethod.Put, $"/api/admin/labs/{ServerFixture.DvwaLab}"),
            (HttpMethod.Delete, $"/api/admin/labs/{ServerFixture.DvwaLab}"), (HttpMethod.Post, $"/api/admin/labs/{ServerFixture.DvwaLab}/deactivate"),
            (HttpMethod.Post, $"/api/admin/labs/{ServerFixture.DvwaLab}/versions/1/rollback") })
        {
            var (status, body, _) = await server.SendAsync(method, path, admin, lab);
            Assert.Equal(HttpStatusCode.Conflict, status);
            Assert.Contains("Catalog:Mode is file", body["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.True((await server.SendAsync(HttpMethod.Post, "/api/admin/labs/validate", admin, lab)).Body["data"]!["valid"]!.GetValue<bool>());
        Assert.Equal(4, (await server.SendAsync(HttpMethod.Get, "/api/admin/labs", admin)).Body["data"]!.AsArray().Count);
    }
}
