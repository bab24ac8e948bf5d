using System.Text.Json.Nodes;
using LabManager.Api;
using LabManager.Testing;
using LabManager.Workflows.Sessions;
using Microsoft.DurableTask;

namespace LabManager.Functions.Tests;

/// <summary>
/// The generated functions.metadata of the Functions app lists exactly the expected functions: an HTTP trigger per
/// API route (name, route, method), the orchestrator, one activity trigger per Workflows activity, and the sweep timer.
/// </summary>
public sealed class FunctionsMetadataTests
{
    private static readonly Dictionary<string, JsonObject> Functions = Load();

    private static Dictionary<string, JsonObject> Load()
    {
        var output = Path.Combine(RepoPaths.Root, "src", "LabManager.Functions", "bin");
        var file = Directory.GetFiles(output, "functions.metadata", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc)
            .FirstOrDefault() ?? throw new FileNotFoundException($"No functions.metadata under {output}: build the solution first");
        return JsonNode.Parse(File.ReadAllText(file))!.AsArray().Select(f => f!.AsObject()).ToDictionary(f => f["name"]!.GetValue<string>());
    }

    private static JsonObject Trigger(string function) =>
        Functions[function]["bindings"]!.AsArray().Select(b => b!.AsObject()).Single(b => b["type"]!.GetValue<string>().EndsWith("Trigger", StringComparison.Ordinal));

    private static IEnumerable<string> ActivityNames() =>
        typeof(LabSessionOrchestrator).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && t.BaseType is { IsGenericType: true } b && b.GetGenericTypeDefinition() == typeof(TaskActivity<,>))
            .Select(t => t.Name);

    [Fact]
    public void HttpTriggers_OnePerApiRoute_WithRouteAndMethod()
    {
        foreach (var route in ApiRoutes.All)
        {
            Assert.True(Functions.ContainsKey(route.Name), $"no function {route.Name}");
            var trigger = Trigger(route.Name);
            Assert.Equal("httpTrigger", trigger["type"]!.GetValue<string>());
            Assert.Equal(route.Pattern["/api/".Length..], trigger["route"]!.GetValue<string>());
            Assert.Equal([route.Method.ToLowerInvariant()], trigger["methods"]!.AsArray().Select(m => m!.GetValue<string>()));
            Assert.Equal("Anonymous", trigger["authLevel"]!.GetValue<string>());
        }
    }

    private static readonly Dictionary<string, string> Realtime = new()
    {
        ["Negotiate"] = "realtime/negotiate",
        ["SubscribeLab"] = "realtime/labs/{id}/subscribe",
        ["UnsubscribeLab"] = "realtime/labs/{id}/unsubscribe",
    };

    [Fact]
    public void RealtimeTriggers_NegotiateAndSubscriptions()
    {
        foreach (var (name, route) in Realtime)
        {
            var trigger = Trigger(name);
            Assert.Equal("httpTrigger", trigger["type"]!.GetValue<string>());
            Assert.Equal(route, trigger["route"]!.GetValue<string>());
            Assert.Equal(["post"], trigger["methods"]!.AsArray().Select(m => m!.GetValue<string>()));
        }
    }

    [Fact]
    public void Orchestrator_HasOrchestrationTrigger()
    {
        Assert.Equal("orchestrationTrigger", Trigger(nameof(LabSessionOrchestrator))["type"]!.GetValue<string>());
        Assert.Equal("orchestrationTrigger", Trigger(nameof(LabManager.Workflows.Pools.PoolKeeperOrchestrator))["type"]!.GetValue<string>());
    }

    [Fact]
    public void Activities_EveryWorkflowsActivityHasATrigger()
    {
        var activities = ActivityNames().ToList();
        Assert.Equal(14, activities.Count);
        Assert.All(activities, a => Assert.Equal("activityTrigger", Trigger(a)["type"]!.GetValue<string>()));
    }

    [Fact]
    public void Sweep_TimerScheduleFromAppSetting()
    {
        var trigger = Trigger("ReconciliationSweep");
        Assert.Equal("timerTrigger", trigger["type"]!.GetValue<string>());
        Assert.Equal("%SWEEP_SCHEDULE%", trigger["schedule"]!.GetValue<string>());
    }

    [Fact]
    public void AgentWatch_TimerEveryThirtySeconds()
    {
        var trigger = Trigger("AgentWatch");
        Assert.Equal("timerTrigger", trigger["type"]!.GetValue<string>());
        Assert.Equal("*/30 * * * * *", trigger["schedule"]!.GetValue<string>());
    }

    [Fact]
    public void VmWatch_TimerEveryTwoSeconds()
    {
        var trigger = Trigger("VmWatch");
        Assert.Equal("timerTrigger", trigger["type"]!.GetValue<string>());
        Assert.Equal("*/2 * * * * *", trigger["schedule"]!.GetValue<string>());
    }

    [Fact]
    public void Metadata_NoUnexpectedFunctions()
    {
        var expected = ApiRoutes.All.Select(r => r.Name).Concat(ActivityNames()).Concat(Realtime.Keys)
            .Append(nameof(LabSessionOrchestrator)).Append(nameof(LabManager.Workflows.Pools.PoolKeeperOrchestrator)).Append("ReconciliationSweep").Append("AgentWatch").Append("VmWatch").Append("Health").Append("HealthDetails").Order();
        Assert.Equal(expected, Functions.Keys.Order());
    }

    [Fact]
    public void Settings_SampleListsWhatHostJsonAndTriggersRead()
    {
        var host = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "host.json")))!;
        Assert.Equal("%DURABLE_TASK_HUB%", host["extensions"]!["durableTask"]!["hubName"]!.GetValue<string>());
        Assert.Equal("AzureStorage", host["extensions"]!["durableTask"]!["storageProvider"]!["type"]!.GetValue<string>());
        var values = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "local.settings.sample.json")))!["Values"]!.AsObject();
        foreach (var setting in new[] { "AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "DURABLE_TASK_HUB", "SWEEP_SCHEDULE", "ConnectionStrings__Postgres", "Vultr__ApiKey", "Auth__SigningKey" })
        {
            Assert.True(values.ContainsKey(setting), $"local.settings.sample.json lacks {setting}");
        }

        Assert.Equal("UseDevelopmentStorage=true", values["AzureWebJobsStorage"]!.GetValue<string>());
        Assert.Equal("0 */5 * * * *", values["SWEEP_SCHEDULE"]!.GetValue<string>());
    }
}
