using Refit;

namespace LabManager.Infrastructure.Vultr;

/// <summary>The subset of Vultr API v2 LabManager uses. Base address: <c>https://api.vultr.com/v2</c>.</summary>
public interface IVultrApi
{
    /// <summary>Creates an instance. Answers 202 with the instance (main_ip 0.0.0.0 until it boots).</summary>
    [Post("/instances")]
    Task<VultrInstanceEnvelope> CreateInstanceAsync([Body] VultrCreateInstanceRequest request, CancellationToken cancellationToken);

    /// <summary>One instance; 404 when it does not exist (an expected answer while polling or after deletion).</summary>
    [Get("/instances/{id}")]
    Task<IApiResponse<VultrInstanceEnvelope>> GetInstanceAsync(string id, CancellationToken cancellationToken);

    /// <summary>One page of instances, filtered by tag and/or label; pass <c>meta.links.next</c> back as <paramref name="cursor"/>.</summary>
    [Get("/instances")]
    Task<VultrInstanceList> ListInstancesAsync(
        [AliasAs("tag")] string? tag,
        [AliasAs("label")] string? label,
        [AliasAs("per_page")] int perPage,
        [AliasAs("cursor")] string? cursor,
        CancellationToken cancellationToken);

    /// <summary>Deletes an instance: 204; 404 when it is already gone.</summary>
    [Delete("/instances/{id}")]
    Task<IApiResponse> DeleteInstanceAsync(string id, CancellationToken cancellationToken);

    /// <summary>Reboots an instance: 204.</summary>
    [Post("/instances/{id}/reboot")]
    Task RebootInstanceAsync(string id, CancellationToken cancellationToken);

    [Post("/firewalls")]
    Task<VultrFirewallEnvelope> CreateFirewallAsync([Body] VultrCreateFirewallRequest request, CancellationToken cancellationToken);

    [Get("/plans")]
    Task<VultrPlanList> ListPlansAsync([AliasAs("per_page")] int perPage, [AliasAs("cursor")] string? cursor, CancellationToken cancellationToken);

    [Get("/regions")]
    Task<VultrRegionList> ListRegionsAsync([AliasAs("per_page")] int perPage, [AliasAs("cursor")] string? cursor, CancellationToken cancellationToken);

    [Get("/firewalls")]
    Task<VultrFirewallList> ListFirewallsAsync([AliasAs("per_page")] int perPage, [AliasAs("cursor")] string? cursor, CancellationToken cancellationToken);

    /// <summary>Deletes a group: 204; 404 when it is already gone.</summary>
    [Delete("/firewalls/{id}")]
    Task<IApiResponse> DeleteFirewallAsync(string id, CancellationToken cancellationToken);

    [Get("/firewalls/{id}/rules")]
    Task<VultrFirewallRuleList> ListFirewallRulesAsync(string id, [AliasAs("per_page")] int perPage, [AliasAs("cursor")] string? cursor, CancellationToken cancellationToken);

    [Post("/firewalls/{id}/rules")]
    Task CreateFirewallRuleAsync(string id, [Body] VultrFirewallRule rule, CancellationToken cancellationToken);

    [Delete("/firewalls/{id}/rules/{ruleId}")]
    Task<IApiResponse> DeleteFirewallRuleAsync(string id, int ruleId, CancellationToken cancellationToken);
}

public sealed record VultrCreateFirewallRequest(string Description);

public sealed record VultrPlanList(IReadOnlyList<VultrPlan> Plans, VultrMeta Meta);

public sealed record VultrPlan(string Id, int VcpuCount, int Ram, IReadOnlyList<string> Locations);

public sealed record VultrRegionList(IReadOnlyList<VultrRegion> Regions, VultrMeta Meta);

public sealed record VultrRegion(string Id);

public sealed record VultrFirewallEnvelope(VultrFirewall FirewallGroup);

public sealed record VultrFirewall(string Id, string? Description, int InstanceCount, string? DateCreated);

public sealed record VultrFirewallList(IReadOnlyList<VultrFirewall> FirewallGroups, VultrMeta Meta);

public sealed record VultrFirewallRuleList(IReadOnlyList<VultrFirewallRule> FirewallRules, VultrMeta Meta);

/// <summary>A rule as sent (no id) and as listed. <see cref="Port"/> is "80" or "8000:8100".</summary>
public sealed record VultrFirewallRule(string IpType, string Protocol, string Subnet, int SubnetSize, string Port, string Notes = "", string Source = "", int? Id = null);

public sealed record VultrInstanceEnvelope(VultrInstance Instance);

public sealed record VultrInstanceList(IReadOnlyList<VultrInstance> Instances, VultrMeta Meta);

public sealed record VultrMeta(int Total, VultrLinks Links);

public sealed record VultrLinks(string? Next, string? Prev);

/// <summary>The instance fields LabManager reads.</summary>
public sealed record VultrInstance(
    string Id,
    string? Label,
    string? Status,
    string? PowerStatus,
    string? ServerStatus,
    string? MainIp,
    string? InternalIp,
    IReadOnlyList<string>? Tags,
    string? DateCreated,
    string? Region,
    string? Plan);

/// <summary>
/// The body of <c>POST /instances</c>. <see cref="UserData"/> is base64. Exactly one of <see cref="OsId"/>, <see cref="ImageId"/> and
/// <see cref="SnapshotId"/> is set; the others are left out of the JSON.
/// </summary>
public sealed record VultrCreateInstanceRequest(
    string Region,
    string Plan,
    int? OsId,
    string? ImageId,
    string? SnapshotId,
    string Label,
    string Hostname,
    IReadOnlyList<string> Tags,
    string UserData,
    string? FirewallGroupId = null,
    string Backups = "disabled",
    bool EnableIpv6 = false);
