using System.Globalization;
using System.Net;
using System.Text;
using LabManager.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Refit;

namespace LabManager.Infrastructure.Vultr;

/// <summary><see cref="ICloudProvider"/> on Vultr API v2. Retries and rate limiting live in the HTTP pipeline.</summary>
public sealed class VultrCloudProvider(IVultrApi api, IOptions<VultrOptions> options, ILogger<VultrCloudProvider> logger) : ICloudProvider
{
    private int PageSize => options.Value.PageSize;

    public async Task<CloudVm> CreateVmAsync(VmSpec spec, CancellationToken cancellationToken = default)
    {
        // The label is the idempotency key: a create whose answer was lost left a VM we must adopt, not duplicate. Only a VM
        // that carries exactly this label and every one of our tags is adopted.
        if (!spec.Fresh && await FindAsync(spec.Label, spec.Tags, cancellationToken) is { } found)
        {
            logger.LogInformation("VM {Label} already exists as {VmId}; adopting it", spec.Label, found.Id);
            return found;
        }

        var image = spec.Image ?? BootImage.Parse(options.Value.DefaultImage);
        var request = new VultrCreateInstanceRequest(
            spec.Region,
            spec.Plan,
            image.OsId,
            string.IsNullOrEmpty(image.ImageId) ? null : image.ImageId,
            string.IsNullOrEmpty(image.SnapshotId) ? null : image.SnapshotId,
            spec.Label,
            spec.Label,
            spec.Tags,
            Convert.ToBase64String(Encoding.UTF8.GetBytes(spec.UserData)),
            spec.FirewallGroupId);
        var created = await Call(() => api.CreateInstanceAsync(request, cancellationToken), $"create instance (plan {spec.Plan} in {spec.Region}, {image})");
        logger.LogInformation("Created VM {VmId} ({Label}) in {Region}, plan {Plan}, {Image}", created.Instance.Id, spec.Label, spec.Region, spec.Plan, image);
        return ToVm(created.Instance);
    }

    public Task<CloudVm?> FindVmByLabelAsync(string label, string tag, CancellationToken cancellationToken = default) =>
        FindAsync(label, [tag], cancellationToken);

    /// <summary>
    /// The VM with exactly this label and all these tags. The label filter narrows the search when Vultr applies it; every page is
    /// checked here, since Vultr does not document how (or whether) it matches.
    /// </summary>
    private async Task<CloudVm?> FindAsync(string label, IReadOnlyList<string> tags, CancellationToken cancellationToken)
    {
        await foreach (var vm in PagesAsync(async cursor =>
        {
            var page = await api.ListInstancesAsync(null, label, PageSize, cursor, cancellationToken);
            return (page.Instances.Select(ToVm), page.Meta);
        }, "list instances"))
        {
            if (vm.Label == label && tags.All(t => vm.Tags.Contains(t)))
            {
                return vm;
            }
        }

        return null;
    }

    /// <summary>One cheap call (one instance listed), to learn whether Vultr answers this deployment's key from this address.</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default) =>
        await Call(() => api.ListInstancesAsync(null, null, 1, null, cancellationToken), "list instances");

    public async Task<CloudVm?> GetVmAsync(string vmId, CancellationToken cancellationToken = default)
    {
        var response = await Call(() => api.GetInstanceAsync(vmId, cancellationToken), "get instance");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        ThrowIfFailed(response, "get instance");
        return ToVm(response.Content!.Instance);
    }

    public async Task DeleteVmAsync(string vmId, CancellationToken cancellationToken = default)
    {
        var response = await Call(() => api.DeleteInstanceAsync(vmId, cancellationToken), "delete instance");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            logger.LogInformation("VM {VmId} was already gone", vmId);
            return;
        }

        ThrowIfFailed(response, "delete instance");
        logger.LogInformation("Deleted VM {VmId}", vmId);
    }

    public Task RebootVmAsync(string vmId, CancellationToken cancellationToken = default) =>
        Call(() => api.RebootInstanceAsync(vmId, cancellationToken), "reboot instance");

    public async Task<IReadOnlyList<CloudVm>> ListVmsAsync(string tag, CancellationToken cancellationToken = default)
    {
        return await PagesAsync(async cursor =>
        {
            var page = await api.ListInstancesAsync(tag, null, PageSize, cursor, cancellationToken);
            return (page.Instances.Select(ToVm), page.Meta);
        }, "list instances").ToListAsync(cancellationToken);
    }

    public async Task<string> EnsureFirewallAsync(string description, bool fresh = false, CancellationToken cancellationToken = default)
    {
        // The description is the idempotency key, as the label is for VMs: a create whose answer was lost is found again.
        if (!fresh && (await ListFirewallsAsync(cancellationToken)).FirstOrDefault(g => g.Description == description) is { } found)
        {
            return found.Id;
        }

        var created = await Call(() => api.CreateFirewallAsync(new VultrCreateFirewallRequest(description), cancellationToken), "create firewall group");
        logger.LogInformation("Created firewall group {GroupId} ({Description})", created.FirewallGroup.Id, description);
        return created.FirewallGroup.Id;
    }

    public async Task SetFirewallRulesAsync(string groupId, IReadOnlyList<Core.Access.FirewallRule> rules, bool fresh = false, CancellationToken cancellationToken = default)
    {
        List<VultrFirewallRule> existing = fresh ? [] : await PagesAsync<VultrFirewallRule>(async cursor =>
        {
            var page = await api.ListFirewallRulesAsync(groupId, PageSize, cursor, cancellationToken);
            return (page.FirewallRules, page.Meta);
        }, "list firewall rules").ToListAsync(cancellationToken);

        var wanted = rules.Select(r => new VultrFirewallRule(r.IsV6 ? "v6" : "v4", r.Protocol, r.Subnet, r.SubnetSize,
            r.Port.ToString(CultureInfo.InvariantCulture), "labmanager")).ToList();
        static string KeyOf(VultrFirewallRule r) => $"{r.IpType} {r.Protocol} {r.Port} {r.Subnet}/{r.SubnetSize} {r.Source}";
        foreach (var stale in existing.Where(e => wanted.All(w => KeyOf(w) != KeyOf(e))))
        {
            var response = await Call(() => api.DeleteFirewallRuleAsync(groupId, stale.Id ?? 0, cancellationToken), "delete firewall rule");
            if (response.StatusCode != HttpStatusCode.NotFound)
            {
                ThrowIfFailed(response, "delete firewall rule");
            }
        }

        foreach (var rule in wanted.Where(w => existing.All(e => KeyOf(e) != KeyOf(w))))
        {
            await Call(() => api.CreateFirewallRuleAsync(groupId, rule, cancellationToken), "create firewall rule");
        }

        logger.LogInformation("Firewall group {GroupId} admits {Rules}", groupId, rules.Count == 0 ? "nothing" : string.Join(", ", rules));
    }

    public async Task DeleteFirewallAsync(string groupId, CancellationToken cancellationToken = default)
    {
        var response = await Call(() => api.DeleteFirewallAsync(groupId, cancellationToken), "delete firewall group");
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            ThrowIfFailed(response, "delete firewall group");
            logger.LogInformation("Deleted firewall group {GroupId}", groupId);
        }
    }

    public async Task<IReadOnlyList<CloudFirewall>> ListFirewallsAsync(CancellationToken cancellationToken = default)
    {
        return await PagesAsync(async cursor =>
        {
            var page = await api.ListFirewallsAsync(PageSize, cursor, cancellationToken);
            return (page.FirewallGroups.Select(g => new CloudFirewall(g.Id, g.Description ?? "", g.InstanceCount, ParseDate(g.DateCreated))), page.Meta);
        }, "list firewall groups").ToListAsync(cancellationToken);
    }

    /// <summary>How long the plans and regions are kept once read: they change when Vultr changes its offer, rarely.</summary>
    public static readonly TimeSpan OfferTtl = TimeSpan.FromMinutes(10);

    private (CloudOffer Offer, DateTimeOffset At)? _offer;

    public async Task<CloudOffer> GetOfferAsync(CancellationToken cancellationToken = default)
    {
        if (_offer is { } kept && DateTimeOffset.UtcNow - kept.At < OfferTtl)
        {
            return kept.Offer;
        }

        var plans = await PagesAsync(async cursor =>
        {
            var page = await api.ListPlansAsync(PageSize, cursor, cancellationToken);
            return (page.Plans.Select(p => new CloudPlan(p.Id, p.VcpuCount, p.Ram, p.Locations)), page.Meta);
        }, "list plans").ToListAsync(cancellationToken);
        var regions = await PagesAsync(async cursor =>
        {
            var page = await api.ListRegionsAsync(PageSize, cursor, cancellationToken);
            return (page.Regions.Select(r => r.Id), page.Meta);
        }, "list regions").ToListAsync(cancellationToken);
        var offer = new CloudOffer(plans, regions);
        _offer = (offer, DateTimeOffset.UtcNow);
        return offer;
    }

    /// <summary>Every item of a Vultr list, page after page: <c>meta.links.next</c> is passed back as the cursor until it is empty.</summary>
    private static async IAsyncEnumerable<T> PagesAsync<T>(Func<string?, Task<(IEnumerable<T> Items, VultrMeta Meta)>> page, string what)
    {
        string? cursor = null;
        do
        {
            var (items, meta) = await Call(() => page(cursor), what);
            foreach (var item in items)
            {
                yield return item;
            }

            cursor = meta.Links.Next;
        }
        while (!string.IsNullOrEmpty(cursor));
    }

    private static DateTimeOffset ParseDate(string? value) =>
        // Vultr writes the account's offset (2024-12-02T10:19:45-05:00); the instant is what counts.
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at.ToUniversalTime() : DateTimeOffset.MinValue;

    private static CloudVm ToVm(VultrInstance i) => new(
        i.Id,
        i.Label ?? "",
        i.Status ?? "",
        i.PowerStatus ?? "",
        i.ServerStatus ?? "",
        i.MainIp ?? "0.0.0.0",
        i.InternalIp ?? "",
        i.Tags ?? [],
        ParseDate(i.DateCreated));

    private static void ThrowIfFailed(IApiResponse response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw Failure(what, (int?)response.StatusCode ?? 0, (response.Error as ApiException)?.Content, response.Error);
        }
    }

    private static async Task<T> Call<T>(Func<Task<T>> call, string what)
    {
        try
        {
            return await call();
        }
        catch (ApiException ex)
        {
            throw Failure(what, (int)ex.StatusCode, ex.Content, ex);
        }
        catch (ApiRequestException ex)
        {
            throw new CloudProviderException($"Vultr {what} failed: {ex.InnerException?.Message ?? ex.Message}", null, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or Polly.Timeout.TimeoutRejectedException)
        {
            throw new CloudProviderException($"Vultr {what} failed: {ex.Message}", null, ex);
        }
    }

    private static async Task Call(Func<Task> call, string what) => await Call(async () =>
    {
        await call();
        return true;
    }, what);

    private static CloudProviderException Failure(string what, int status, string? body, Exception? inner)
    {
        var detail = VultrError.Read(body);
        return CloudProviderException.For($"Vultr {what} answered {status}{(detail is null ? "" : ": " + detail)}", status, inner);
    }
}
