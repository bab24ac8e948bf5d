using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LabManager.Core.Access;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Testing;
using LabManager.Workflows.Reconciliation;
using LabManager.Workflows.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Tests;

/// <summary>
/// Each session's own firewall group, its idle stop, and reconciliation of groups, against the emulator (direct mode: the learner's
/// address is 127.0.0.77, a stranger's 127.0.0.66).
/// </summary>
public sealed class LabAccessTests(LabSessionHost host) : IClassFixture<LabSessionHost>
{
    private const string LearnerIp = "127.0.0.77";

    private ICloudProvider Cloud => host.Services.GetRequiredService<ICloudProvider>();

    [Fact]
    public async Task TheVmIsMadeInItsOwnGroup_OpenToTheLearnerOnly_AndTheGroupGoesAfterTheVm()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30), learnerIp: LearnerIp);
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        var group = Assert.Single(await Cloud.ListFirewallsAsync(), g => g.Description == LabFirewall.Description("labmanager", id));
        Assert.Equal(group.Id, running.FirewallGroupId);
        Assert.Equal(group.Id, (await VultrAsync($"instances/{running.CloudInstanceId}"))["instance"]!["firewall_group_id"]!.GetValue<string>());
        var port = new Uri(running.AccessUrl!).Port;
        Assert.Contains("Lab app", await GetFromAsync(LearnerIp, running.AccessUrl!), StringComparison.Ordinal);
        Assert.True(SourceAddress.IsRefusal(await Record.ExceptionAsync(() => GetFromAsync("127.0.0.66", running.AccessUrl!))), "a stranger reached the VM");
        var rules = (await VultrAsync($"firewalls/{group.Id}/rules"))["firewall_rules"]!.AsArray().Select(r => (r!["subnet"]!.GetValue<string>(), r["port"]!.GetValue<string>())).ToList();
        Assert.Equal([("127.0.0.1", port.ToString()), (LearnerIp, port.ToString())], rules.Order());
        Assert.DoesNotContain(rules, r => r.Item2 == "22");

        await host.Client.RaiseEventAsync(id.ToString(), LabEvents.Stop, new StopRequest("user"));
        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id)).Status);
        Assert.DoesNotContain(await Cloud.ListFirewallsAsync(), g => g.Id == group.Id);
        await host.AssertNoVmLeftAsync(id);
    }

    [Fact]
    public async Task AnIdleLab_IsWarnedThenStopped()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30), idleTimeout: TimeSpan.FromSeconds(4), timings: LabSessionHost.FastTimings with { IdleWarning = TimeSpan.FromSeconds(2) });
        var running = await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        var result = await host.WaitForEndAsync(id, TimeSpan.FromSeconds(30));

        Assert.Equal(LabInstanceStatus.Stopped, result.Status);
        var ended = (await host.Store.GetAsync(id))!;
        Assert.InRange(ended.EndedAt!.Value - running.StartedAt!.Value, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(12));
        Assert.Contains(host.Notifier.StatusesOf(id), s => s.Status == LabInstanceStatus.Stopped && s.Message == "Stopped after 4 seconds without activity");
        var warning = Assert.Single(host.Notifier.NotificationsOf(running.UserId), n => n.Metadata?.GetValueOrDefault("kind") == "idle");
        Assert.Equal("warning", warning.Type);
        Assert.StartsWith("Your lab stops in 2 seconds without activity", warning.Message, StringComparison.Ordinal);
        await host.AssertNoVmLeftAsync(id);
    }

    [Fact]
    public async Task Activity_KeepsTheLabAlive_UntilItStops()
    {
        var id = await host.StartAsync(TimeSpan.FromMinutes(30), idleTimeout: TimeSpan.FromSeconds(4), timings: LabSessionHost.FastTimings with { IdleWarning = TimeSpan.FromSeconds(1) });
        await host.WaitForStatusAsync(id, LabInstanceStatus.Running);

        // Requests through the gateway (or the page's keep-alive) for twice the idle timeout: the lab keeps running.
        for (var i = 0; i < 8; i++)
        {
            await host.Store.RecordActivityAsync(new Dictionary<Guid, DateTimeOffset> { [id] = DateTimeOffset.UtcNow });
            await Task.Delay(1000);
        }

        Assert.Equal(LabInstanceStatus.Running, (await host.Store.GetAsync(id))!.Status);
        var quietFrom = DateTimeOffset.UtcNow;
        Assert.Equal(LabInstanceStatus.Stopped, (await host.WaitForEndAsync(id, TimeSpan.FromSeconds(30))).Status);
        Assert.InRange((await host.Store.GetAsync(id))!.EndedAt!.Value - quietFrom, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Reconciliation_DeletesOurOrphanGroups_NeverAnothersNorALiveSessions()
    {
        var orphan = await Cloud.EnsureFirewallAsync(LabFirewall.Description("labmanager", Guid.NewGuid()));
        var foreign = await Cloud.EnsureFirewallAsync("web servers");
        var otherDeployment = await Cloud.EnsureFirewallAsync(LabFirewall.Description("staging", Guid.NewGuid()));
        var live = await host.StartAsync(TimeSpan.FromMinutes(30));
        var running = await host.WaitForStatusAsync(live, LabInstanceStatus.Running);

        var options = Options.Create(new LabSessionOptions { OrphanGracePeriod = TimeSpan.Zero });
        var reconciler = new Reconciler(Cloud, host.Store, new InMemoryLabCatalog(host.Lab), new DurableLabSessionControl(new ServiceCollection().AddSingleton(host.Client).BuildServiceProvider(), options),
            host.Notifier, new InMemoryReconciliationLog(), new LabMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            options, TimeProvider.System, NullLogger<Reconciler>.Instance);
        var report = (await reconciler.RunAsync())!;

        var left = (await Cloud.ListFirewallsAsync()).Select(g => g.Id).ToList();
        Assert.DoesNotContain(orphan, left);
        Assert.Contains(foreign, left);
        Assert.Contains(otherDeployment, left);
        Assert.Contains(running.FirewallGroupId!, left);
        Assert.True(report.FirewallsDeleted >= 1);
        await host.Client.RaiseEventAsync(live.ToString(), LabEvents.Stop, new StopRequest("user"));
        await host.WaitForEndAsync(live);
    }

    private async Task<JsonObject> VultrAsync(string path)
    {
        using var http = new HttpClient { BaseAddress = host.Emulator.ApiBase };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.Emulator.ApiKey);
        return (await http.GetFromJsonAsync<JsonObject>(path))!;
    }

    private static async Task<string> GetFromAsync(string source, string url)
    {
        using var http = new HttpClient(SourceAddress.Handler(source)) { Timeout = TimeSpan.FromSeconds(5) };
        return await http.GetStringAsync(url);
    }
}
