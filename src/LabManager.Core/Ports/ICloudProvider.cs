namespace LabManager.Core.Ports;

/// <summary>The cloud that runs lab VMs (Vultr in production, the emulator locally).</summary>
public interface ICloudProvider
{
    /// <summary>
    /// Creates a VM, or adopts the one of ours (<see cref="CloudVm.IsOurs"/>) that already carries <see cref="VmSpec.Label"/>: calling
    /// it twice for the same label never makes two VMs. With <see cref="VmSpec.Fresh"/> (no earlier create for the label was ever sent)
    /// there is nothing to adopt, and the create is the only call.
    /// </summary>
    Task<CloudVm> CreateVmAsync(VmSpec spec, CancellationToken cancellationToken = default);

    /// <summary>
    /// The VM that carries exactly <paramref name="label"/> and <paramref name="tag"/>, or null. Checked on our side on every page:
    /// the cloud's filters only narrow the search.
    /// </summary>
    Task<CloudVm?> FindVmByLabelAsync(string label, string tag, CancellationToken cancellationToken = default);

    /// <summary>The VM, or null when it does not exist.</summary>
    Task<CloudVm?> GetVmAsync(string vmId, CancellationToken cancellationToken = default);

    /// <summary>Deletes the VM; a VM that is already gone counts as deleted.</summary>
    Task DeleteVmAsync(string vmId, CancellationToken cancellationToken = default);

    Task RebootVmAsync(string vmId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every VM the cloud lists for <paramref name="tag"/>, across all pages. The filter is the cloud's: the list may hold VMs that are
    /// not ours, so whoever acts on one checks <see cref="CloudVm.IsOurs"/> first.
    /// </summary>
    Task<IReadOnlyList<CloudVm>> ListVmsAsync(string tag, CancellationToken cancellationToken = default);

    /// <summary>
    /// The firewall group with exactly this description, created when there is none: calling it twice (a lost answer) never makes two.
    /// Answers its id. <paramref name="fresh"/>: no create for this description was ever sent, so the groups are not listed first.
    /// </summary>
    Task<string> EnsureFirewallAsync(string description, bool fresh = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes the group's rules exactly <paramref name="rules"/>: adds what is missing, deletes what is not asked for. <paramref name="fresh"/>:
    /// the group was just made and has no rules, so they are not listed first.
    /// </summary>
    Task SetFirewallRulesAsync(string groupId, IReadOnlyList<Access.FirewallRule> rules, bool fresh = false, CancellationToken cancellationToken = default);

    /// <summary>Deletes the group; one already gone counts as deleted.</summary>
    Task DeleteFirewallAsync(string groupId, CancellationToken cancellationToken = default);

    /// <summary>Every firewall group of the account, across all pages: whoever deletes one checks its description is ours first.</summary>
    Task<IReadOnlyList<CloudFirewall>> ListFirewallsAsync(CancellationToken cancellationToken = default);

    /// <summary>The plans and regions the account can use, across all pages (what a lab's plan and region are checked against).</summary>
    Task<CloudOffer> GetOfferAsync(CancellationToken cancellationToken = default);
}

/// <summary>A firewall group as the cloud reports it, with how many VMs are in it.</summary>
public sealed record CloudFirewall(string Id, string Description, int InstanceCount, DateTimeOffset DateCreated);

/// <summary>
/// What to create. <see cref="Image"/> null: the deployment's default image; <see cref="FirewallGroupId"/>: the group the VM is made in;
/// <see cref="Fresh"/>: no create for this label was ever sent before (so no VM of it can exist to adopt).
/// </summary>
public sealed record VmSpec(string Label, string Region, string Plan, string UserData, IReadOnlyList<string> Tags, BootImage? Image = null, string? FirewallGroupId = null,
    bool Fresh = false);

/// <summary>
/// What a VM boots from, exactly one of: a Vultr OS (<see cref="OsId"/>, e.g. 1743 = Ubuntu 22.04 x64), a marketplace image
/// (<see cref="ImageId"/>, e.g. <c>docker</c>, which has Docker preinstalled) or a snapshot of the account (<see cref="SnapshotId"/>).
/// </summary>
public sealed record BootImage(int? OsId = null, string? ImageId = null, string? SnapshotId = null)
{
    /// <summary>Exactly one source is named.</summary>
    public bool IsValid => (OsId is > 0 ? 1 : 0) + (string.IsNullOrEmpty(ImageId) ? 0 : 1) + (string.IsNullOrEmpty(SnapshotId) ? 0 : 1) == 1;

    /// <summary>
    /// Reads a setting such as <c>Vultr:DefaultImage</c>: a number is an os_id, <c>snapshot:&lt;id&gt;</c> a snapshot, anything else
    /// a marketplace image_id (<c>docker</c>).
    /// </summary>
    public static BootImage Parse(string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var os) ? new(os)
        : value.StartsWith("snapshot:", StringComparison.Ordinal) ? new(SnapshotId: value["snapshot:".Length..])
        : new(ImageId: value);

    public override string ToString() => OsId is { } os ? $"os {os}" : ImageId is { Length: > 0 } image ? $"image {image}" : $"snapshot {SnapshotId}";
}

/// <summary>A VM as the cloud reports it.</summary>
public sealed record CloudVm(
    string Id,
    string Label,
    string Status,
    string PowerStatus,
    string ServerStatus,
    string MainIp,
    string InternalIp,
    IReadOnlyList<string> Tags,
    DateTimeOffset DateCreated)
{
    /// <summary>Usable: active, running, ok, with a real address.</summary>
    public bool IsReady => Status == "active" && PowerStatus == "running" && ServerStatus == "ok" && MainIp is not ("" or "0.0.0.0");

    /// <summary>
    /// LabManager's own VM: it carries the deployment's <paramref name="tag"/> and a label of the form LabManager gives
    /// (<see cref="Instances.LabInstance.VmLabel"/>). The only test that allows deleting, rebooting or adopting a VM.
    /// </summary>
    public bool IsOurs(string tag) => Tags.Contains(tag, StringComparer.Ordinal) && Instances.LabInstance.TryParseVmLabel(Label, out _, out _);

    /// <summary>A short human description of where the VM is, for logs and status messages.</summary>
    public string Describe() => $"{Status}/{PowerStatus}/{ServerStatus}";
}

/// <summary>The cloud refused or failed a call, after retries. The message says what it answered.</summary>
public class CloudProviderException(string message, int? statusCode = null, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The HTTP status the cloud answered, if it answered.</summary>
    public int? StatusCode { get; } = statusCode;

    /// <summary>The failure for an answer: refused for good (a 4xx other than 408 and 429), or one that may pass on a later try.</summary>
    public static CloudProviderException For(string message, int status, Exception? inner = null) =>
        status is >= 400 and < 500 and not 408 and not 429
            ? new CloudRequestRefusedException(message, status, inner)
            : new CloudProviderException(message, status, inner);
}

/// <summary>The cloud refused the request itself (e.g. 400 "Invalid plan chosen.", 401 "Unauthorized IP address"): asking again cannot help.</summary>
public sealed class CloudRequestRefusedException(string message, int statusCode, Exception? inner = null)
    : CloudProviderException(message, statusCode, inner);

/// <summary>A failure no retry can fix (the lab or the instance does not exist): the workflow fails at once with its reason.</summary>
public sealed class PermanentFailureException(string message) : Exception(message);

/// <summary>A plan the cloud sells: its size and the regions it is sold in.</summary>
public sealed record CloudPlan(string Id, int VcpuCount, int RamMb, IReadOnlyList<string> Locations);

/// <summary>What the cloud offers: its plans and the ids of its regions.</summary>
public sealed record CloudOffer(IReadOnlyList<CloudPlan> Plans, IReadOnlyList<string> Regions);
