using LabManager.Core.Access;
using LabManager.Core.Instances;
using LabManager.Core.Ports;
using LabManager.Workflows.Instances;
using LabManager.Workflows.Sessions;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabManager.Workflows.Access;

/// <summary>
/// Input of <see cref="EnsureFirewallActivity"/>; <paramref name="Lab"/> comes from the session (null: read from the catalog).
/// <paramref name="PooledGroupId"/>: the group of a pooled VM just claimed, which has the rules for no learner.
/// </summary>
public sealed record FirewallInput(Guid InstanceId, Guid LabId, SessionLab? Lab = null, string? PooledGroupId = null);

/// <summary>
/// Makes the instance's firewall group (or finds the one a lost answer left) with the rules its access mode needs, before the VM exists:
/// the VM is never up without it. The learner's address is the one recorded when they started the lab or last asked for access.
/// </summary>
public sealed class EnsureFirewallActivity(ICloudProvider cloud, IInstanceStore store, ILabCatalog catalog, IOptions<LabSessionOptions> options,
    IOptions<AccessOptions> access, ILogger<EnsureFirewallActivity> logger) : TaskActivity<FirewallInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, FirewallInput input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<string> ExecuteAsync(FirewallInput input)
    {
        var container = input.Lab?.Container ?? (await catalog.GetAsync(input.LabId))?.ContainerConfig
            ?? throw new PermanentFailureException($"Lab {input.LabId} does not exist");
        var instance = await store.GetAsync(input.InstanceId) ?? throw new PermanentFailureException($"Instance {input.InstanceId} does not exist");
        var rules = LabFirewall.Rules(container, access.Value, instance.LearnerIp);
        if (input.PooledGroupId is { } pooled)
        {
            // Claimed from the pool: only what the learner's address adds costs Vultr calls (nothing, for a web lab behind the gateway).
            if (!rules.SequenceEqual(LabFirewall.Rules(container, access.Value, null)))
            {
                await cloud.SetFirewallRulesAsync(pooled, rules);
            }

            return pooled;
        }

        // A first request makes the group and its rules without listing anything; a retry finds what an earlier one may have made.
        var fresh = await store.FirstCloudRequestAsync(input.InstanceId, "firewall");
        var groupId = await cloud.EnsureFirewallAsync(LabFirewall.Description(options.Value.VmTag, input.InstanceId), fresh);
        await cloud.SetFirewallRulesAsync(groupId, rules, fresh);
        logger.LogInformation("Instance {InstanceId}: firewall group {GroupId} ({Mode} mode)", input.InstanceId, groupId, access.Value.Mode);
        return groupId;
    }
}

/// <summary>Deletes the instance's firewall group once its VM is gone; a group already gone counts as deleted.</summary>
public sealed class DeleteFirewallActivity(ICloudProvider cloud) : TaskActivity<string, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, string input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<bool> ExecuteAsync(string input)
    {
        await cloud.DeleteFirewallAsync(input);
        return true;
    }
}

/// <summary>
/// Input of <see cref="CheckIdleActivity"/>: the instance, the orchestration's clock, activity counted from <paramref name="Since"/> at the
/// earliest (the lab's start), the idle timeout and how long before it the learner is warned, and the activity already warned about.
/// </summary>
public sealed record IdleCheck(Guid InstanceId, DateTimeOffset At, DateTimeOffset Since, TimeSpan Timeout, TimeSpan Lead, DateTimeOffset? WarnedFor);

/// <summary>The last activity seen; <paramref name="Stop"/>: idle for the whole timeout; <paramref name="Warned"/>: the learner was warned now.</summary>
public sealed record IdleVerdict(DateTimeOffset LastActivity, bool Stop, bool Warned);

/// <summary>Reads the lab's last activity (gateway requests, the page's keep-alive) and warns the learner once before an idle stop.</summary>
public sealed class CheckIdleActivity(IInstanceStore store, INotifier notifier) : TaskActivity<IdleCheck, IdleVerdict>
{
    public override Task<IdleVerdict> RunAsync(TaskActivityContext context, IdleCheck input) => ExecuteAsync(input);

    /// <summary>The activity's work; any host (Durable Task worker or Functions trigger) calls this.</summary>
    public async Task<IdleVerdict> ExecuteAsync(IdleCheck input)
    {
        var instance = await store.GetAsync(input.InstanceId) ?? throw new PermanentFailureException($"Instance {input.InstanceId} does not exist");
        var last = instance.LastActivityAt is { } seen && seen > input.Since ? seen : input.Since;
        var idle = input.At - last;
        if (idle >= input.Timeout)
        {
            return new IdleVerdict(last, true, false);
        }

        if (idle < input.Timeout - input.Lead || input.WarnedFor == last)
        {
            return new IdleVerdict(last, false, false);
        }

        var left = input.Timeout - idle;
        var metadata = UpdateInstanceActivity.Metadata(instance);
        metadata["kind"] = "idle";
        metadata["stopsAt"] = (last + input.Timeout).ToString("o");
        await notifier.NotifyAsync(instance.UserId, new LabNotification(
            "warning", $"Your lab stops in {IdleTime.Describe(left)} without activity; keep it to go on working", metadata));
        return new IdleVerdict(last, false, true);
    }
}

/// <summary>How idle times are told: "30 minutes", "1 minute", "40 seconds".</summary>
public static class IdleTime
{
    public static string Describe(TimeSpan span) => span >= TimeSpan.FromMinutes(1)
        ? Plural((int)Math.Round(span.TotalMinutes), "minute")
        : Plural(Math.Max(1, (int)Math.Round(span.TotalSeconds)), "second");

    private static string Plural(int n, string unit) => $"{n} {unit}{(n == 1 ? "" : "s")}";
}
