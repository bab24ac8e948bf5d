namespace LabManager.Core.Ports;

/// <summary>The cloud that runs lab VMs (Vultr in production, the emulator locally).</summary>
public interface ICloudProvider
{
    /// <summary>
    /// Creates a VM, or adopts the one that already carries <see cref="VmSpec.Label"/>: calling it twice
    /// for the same label never makes two VMs.
    /// </summary>
    Task<CloudVm> CreateVmAsync(VmSpec spec, CancellationToken cancellationToken = default);

    /// <summary>The VM carrying <paramref name="label"/>, or null when there is none.</summary>
    Task<CloudVm?> FindVmByLabelAsync(string label, CancellationToken cancellationToken = default);

    /// <summary>The VM, or null when it does not exist.</summary>
    Task<CloudVm?> GetVmAsync(string vmId, CancellationToken cancellationToken = default);

    /// <summary>Deletes the VM; a VM that is already gone counts as deleted.</summary>
    Task DeleteVmAsync(string vmId, CancellationToken cancellationToken = default);

    Task RebootVmAsync(string vmId, CancellationToken cancellationToken = default);

    /// <summary>Reinstalls the OS; user_data runs again, so the lab comes up fresh.</summary>
    Task ReinstallVmAsync(string vmId, CancellationToken cancellationToken = default);

    /// <summary>Every VM carrying <paramref name="tag"/>, across all pages.</summary>
    Task<IReadOnlyList<CloudVm>> ListVmsAsync(string tag, CancellationToken cancellationToken = default);
}

/// <summary>What to create.</summary>
public sealed record VmSpec(string Label, string Region, string Plan, string UserData, IReadOnlyList<string> Tags, int OsId = VmSpec.Ubuntu2204)
{
    /// <summary>Vultr os_id of Ubuntu 22.04 x64.</summary>
    public const int Ubuntu2204 = 1743;
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

    /// <summary>A short human description of where the VM is, for logs and status messages.</summary>
    public string Describe() => $"{Status}/{PowerStatus}/{ServerStatus}";
}

/// <summary>The cloud refused or failed a call, after retries. The message says what it answered.</summary>
public sealed class CloudProviderException(string message, int? statusCode = null, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The HTTP status the cloud answered, if it answered.</summary>
    public int? StatusCode { get; } = statusCode;
}
